import { AgentRun, EMPTY_SUMMARY, percentile, PerformanceTier, summarise, tierOf } from './performance';

const run = (outcome: AgentRun['outcome'], durationMs: number, costUsd = 0.1, qualityScore: number | null = null) => ({
  outcome,
  durationMs,
  costUsd,
  qualityScore,
});

describe('performance figures', () => {
  it('summarises runs: success rate, quality, cost per success, percentiles; cancelled runs left out', () => {
    const s = summarise([
      run('COMPLETED', 1000, 0.1, 8),
      run('COMPLETED', 2000, 0.1, 6),
      run('FAILED', 3000, 0.2),
      run('TIMED_OUT', 4000, 0.2),
      run('CANCELLED', 99_000, 5),
    ]);
    expect(s).toEqual({
      runs: 4,
      successes: 2,
      successRate: 0.5,
      meanQuality: 7,
      scoredRuns: 2,
      meanCostUsd: expect.closeTo(0.15, 10),
      costPerSuccessUsd: expect.closeTo(0.3, 10),
      p50DurationMs: 2500,
      p95DurationMs: expect.closeTo(3850, 10),
    });
    expect(summarise([])).toEqual(EMPTY_SUMMARY);
  });

  it('percentile interpolates like percentile_cont', () => {
    expect(percentile([10], 0.95)).toBe(10);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(percentile([], 0.5)).toBeNull();
  });

  it('derives the tier from documented thresholds', () => {
    const figures = (runs: number, successRate: number, meanQuality: number | null = null) => ({
      ...EMPTY_SUMMARY,
      runs,
      successes: Math.round(runs * successRate),
      successRate,
      meanQuality,
    });
    expect(tierOf(figures(3, 0))).toBe(PerformanceTier.SILVER); // too few runs to judge
    expect(tierOf(figures(20, 0.95, 8))).toBe(PerformanceTier.PLATINUM);
    expect(tierOf(figures(20, 0.95, 7.5))).toBe(PerformanceTier.GOLD);
    expect(tierOf(figures(10, 0.85))).toBe(PerformanceTier.GOLD);
    expect(tierOf(figures(19, 1))).toBe(PerformanceTier.GOLD);
    expect(tierOf(figures(5, 0.7))).toBe(PerformanceTier.SILVER);
    expect(tierOf(figures(5, 0.6))).toBe(PerformanceTier.BRONZE);
    expect(tierOf(figures(50, 0.99, 4))).toBe(PerformanceTier.BRONZE);
  });
});

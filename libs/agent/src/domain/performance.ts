/** How a finished session ended, from its agent's point of view. */
export type RunOutcome = 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED';

/** One finished session of an agent. */
export interface AgentRun {
  agentId: string;
  sessionId: string;
  attempt: number;
  outcome: RunOutcome;
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  /** 0-10, when a review gave one. */
  qualityScore: number | null;
  finishedAt: Date;
}

export interface PerformanceSummary {
  runs: number;
  successes: number;
  /** successes / runs, null without runs. Cancelled runs are not runs here: see countsForPerformance. */
  successRate: number | null;
  meanQuality: number | null;
  /** Runs that a review scored (the weight of meanQuality). */
  scoredRuns: number;
  meanCostUsd: number | null;
  /** Total cost / successes: what a success costs, failures included. */
  costPerSuccessUsd: number | null;
  p50DurationMs: number | null;
  p95DurationMs: number | null;
}

export const EMPTY_SUMMARY: PerformanceSummary = {
  runs: 0,
  successes: 0,
  successRate: null,
  meanQuality: null,
  scoredRuns: 0,
  meanCostUsd: null,
  costPerSuccessUsd: null,
  p50DurationMs: null,
  p95DurationMs: null,
};

/** A user's cancel says nothing about the agent: cancelled runs are left out of its figures. */
export function countsForPerformance(outcome: RunOutcome): boolean {
  return outcome !== 'CANCELLED';
}

/** The reference implementation of the figures (the repository computes the same in SQL). */
export function summarise(runs: readonly Pick<AgentRun, 'outcome' | 'durationMs' | 'costUsd' | 'qualityScore'>[]): PerformanceSummary {
  const counted = runs.filter((r) => countsForPerformance(r.outcome));
  if (counted.length === 0) return EMPTY_SUMMARY;
  const successes = counted.filter((r) => r.outcome === 'COMPLETED').length;
  const qualities = counted.map((r) => r.qualityScore).filter((q): q is number => q !== null);
  const cost = counted.reduce((sum, r) => sum + r.costUsd, 0);
  const durations = counted.map((r) => r.durationMs).sort((a, b) => a - b);
  return {
    runs: counted.length,
    successes,
    successRate: successes / counted.length,
    meanQuality: qualities.length ? qualities.reduce((a, b) => a + b, 0) / qualities.length : null,
    scoredRuns: qualities.length,
    meanCostUsd: cost / counted.length,
    costPerSuccessUsd: successes ? cost / successes : null,
    p50DurationMs: percentile(durations, 0.5),
    p95DurationMs: percentile(durations, 0.95),
  };
}

/** Linear interpolation between closest ranks (PostgreSQL's percentile_cont). */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = p * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export enum PerformanceTier {
  PLATINUM = 'PLATINUM',
  GOLD = 'GOLD',
  SILVER = 'SILVER',
  BRONZE = 'BRONZE',
}

/**
 * Tier thresholds over the recent window (the last RECENT_RUNS counted runs). A tier needs
 * enough runs, the success rate and, when reviews scored the agent, the mean quality.
 * An agent with fewer than SILVER's runs is SILVER: unproven, neither trusted nor penalised.
 */
export const TIER_THRESHOLDS: readonly { tier: PerformanceTier; minRuns: number; minSuccessRate: number; minQuality: number }[] = [
  { tier: PerformanceTier.PLATINUM, minRuns: 20, minSuccessRate: 0.95, minQuality: 8 },
  { tier: PerformanceTier.GOLD, minRuns: 10, minSuccessRate: 0.85, minQuality: 7 },
  { tier: PerformanceTier.SILVER, minRuns: 5, minSuccessRate: 0.7, minQuality: 5 },
];
export const RECENT_RUNS = 50;

export function tierOf(recent: PerformanceSummary): PerformanceTier {
  if (recent.runs < TIER_THRESHOLDS[TIER_THRESHOLDS.length - 1].minRuns) return PerformanceTier.SILVER;
  for (const t of TIER_THRESHOLDS) {
    const qualityOk = recent.meanQuality === null || recent.meanQuality >= t.minQuality;
    if (recent.runs >= t.minRuns && (recent.successRate ?? 0) >= t.minSuccessRate && qualityOk) return t.tier;
  }
  return PerformanceTier.BRONZE;
}

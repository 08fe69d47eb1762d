import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { Agent } from '../../domain/agent';
import { AgentRole } from '../../domain/agent-role';
import { AgentErrorCode } from '../../domain/agent.errors';
import { AgentRun, EMPTY_SUMMARY, PerformanceSummary, RECENT_RUNS, RunOutcome, summarise, tierOf } from '../../domain/performance';
import { TypeormAgentPerformanceRepository } from './typeorm-agent-performance.repository';
import { TypeormAgentRepository } from './typeorm-agent.repository';

/** Equal up to float rounding (SQL sums decimals, summarise() sums floats). */
function expectSameFigures(actual: PerformanceSummary, expected: PerformanceSummary): void {
  for (const key of Object.keys(expected) as Array<keyof PerformanceSummary>) {
    const e = expected[key];
    if (e === null) expect({ [key]: actual[key] }).toEqual({ [key]: null });
    else expect({ [key]: actual[key] }).toEqual({ [key]: expect.closeTo(e, 9) });
  }
}

describe('TypeormAgentPerformanceRepository (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let agents: TypeormAgentRepository;
  let perf: TypeormAgentPerformanceRepository;
  const tag = `perf-int-${Date.now()}-${process.pid}`;

  const newAgent = async (name: string, max = 3) => {
    const a = Agent.create({
      name: `${tag}-${name}`,
      role: AgentRole.IMPLEMENTER,
      capabilities: [{ skill: 'typescript', level: 3 }],
      maxConcurrentSessions: max,
      binding: { opencodeAgent: 'build', model: null, systemInstructions: '', disabledTools: [] },
    });
    await agents.insert(a);
    return a;
  };

  /** 70 runs, one a minute: every 7th cancelled, every 5th failed, every 11th timed out, some scored. */
  const knownRuns = (agentId: string): AgentRun[] => {
    const start = Date.parse('2030-01-01T00:00:00Z');
    return Array.from({ length: 70 }, (_, i) => {
      const outcome: RunOutcome = i % 7 === 3 ? 'CANCELLED' : i % 5 === 1 ? 'FAILED' : i % 11 === 2 ? 'TIMED_OUT' : 'COMPLETED';
      return {
        agentId,
        sessionId: randomUUID(),
        attempt: 1 + (i % 2),
        outcome,
        durationMs: 1000 + ((i * 7919) % 60_000),
        inputTokens: 100 + i,
        outputTokens: 50 + i,
        costUsd: Number((0.0137 * ((i % 9) + 1)).toFixed(4)),
        qualityScore: i % 3 === 0 ? (i % 21) / 2 : null,
        finishedAt: new Date(start + i * 60_000),
      };
    });
  };
  const newestFirst = (runs: AgentRun[]) => [...runs].sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  const lastCounted = (runs: AgentRun[], n: number) => newestFirst(runs).filter((r) => r.outcome !== 'CANCELLED').slice(0, n);

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    agents = new TypeormAgentRepository(dataSource);
    perf = new TypeormAgentPerformanceRepository(dataSource);
  });
  afterAll(() => dataSource?.destroy());

  it('aggregates stored runs exactly as summarise() does, for the recent window and all time', async () => {
    const a = await newAgent('figures');
    const runs = knownRuns(a.id);
    // Recorded out of order: the window is by finish time, not by arrival.
    for (const r of [...runs.slice(35), ...runs.slice(0, 35)]) expect(await perf.recordRun(r)).toBe(true);

    for (const n of [RECENT_RUNS, 7, 1000]) {
      const figures = await perf.summary(a.id, n);
      expectSameFigures(figures.recent, summarise(lastCounted(runs, n)));
      expectSameFigures(figures.allTime, summarise(runs));
    }
    expect((await perf.summary(a.id, RECENT_RUNS)).recent.runs).toBe(RECENT_RUNS);

    // agent_stats holds the same recent window, and the totals by increments.
    const [stats] = await dataSource.query('SELECT * FROM agent_stats WHERE agent_id = $1', [a.id]);
    const recent = summarise(lastCounted(runs, RECENT_RUNS));
    const allTime = summarise(runs);
    expect(stats).toMatchObject({
      recent_runs: recent.runs,
      recent_successes: recent.successes,
      recent_scored_runs: recent.scoredRuns,
      recent_quality_sum: expect.closeTo((recent.meanQuality ?? 0) * recent.scoredRuns, 9),
      recent_cost_sum_usd: expect.closeTo(recent.meanCostUsd! * recent.runs, 9),
      recent_p50_duration_ms: expect.closeTo(recent.p50DurationMs!, 9),
      recent_p95_duration_ms: expect.closeTo(recent.p95DurationMs!, 9),
      total_runs: allTime.runs,
      total_successes: allTime.successes,
      total_cancelled: runs.filter((r) => r.outcome === 'CANCELLED').length,
      total_scored_runs: allTime.scoredRuns,
      total_quality_sum: expect.closeTo(allTime.meanQuality! * allTime.scoredRuns, 9),
      total_cost_sum_usd: expect.closeTo(allTime.meanCostUsd! * allTime.runs, 9),
      tier: tierOf(recent),
    });
    const standing = (await perf.routingSnapshot()).find((s) => s.agent.id === a.id)!;
    expectSameFigures(standing.recent, recent);
  });

  it('records a session attempt once; the same attempt again changes nothing', async () => {
    const a = await newAgent('idempotent');
    const [run] = knownRuns(a.id);
    expect(await perf.recordRun(run)).toBe(true);
    expect(await perf.recordRun({ ...run, outcome: 'FAILED', costUsd: 9 })).toBe(false);
    expect(await perf.recordRun({ ...run, attempt: run.attempt + 1 })).toBe(true);
    const { allTime } = await perf.summary(a.id, RECENT_RUNS);
    expect(allTime).toMatchObject({ runs: 2, successes: 2 });
    const [stats] = await dataSource.query('SELECT total_runs FROM agent_stats WHERE agent_id = $1', [a.id]);
    expect(stats.total_runs).toBe(2);
    await expect(perf.recordRun({ ...run, agentId: randomUUID(), sessionId: randomUUID() })).rejects.toMatchObject({
      code: AgentErrorCode.AGENT_NOT_FOUND,
    });
  });

  it('keeps agent_stats right under concurrent runs of one agent', async () => {
    const a = await newAgent('concurrent');
    const runs = knownRuns(a.id).slice(0, 20);
    await Promise.all(runs.map((r) => perf.recordRun(r)));
    const [stats] = await dataSource.query('SELECT recent_runs, total_runs, total_cancelled FROM agent_stats WHERE agent_id = $1', [a.id]);
    const counted = runs.filter((r) => r.outcome !== 'CANCELLED').length;
    expect(stats).toEqual({ recent_runs: counted, total_runs: counted, total_cancelled: runs.length - counted });
  });

  it('credits a later quality score to the latest attempt of a session, once', async () => {
    const a = await newAgent('quality');
    const sessionId = randomUUID();
    const base = { ...knownRuns(a.id)[1], sessionId, qualityScore: null, outcome: 'COMPLETED' as const };
    await perf.recordRun({ ...base, attempt: 1 });
    await perf.recordRun({ ...base, attempt: 2, finishedAt: new Date(base.finishedAt.getTime() + 1000) });
    expect(await perf.recordQuality(sessionId, 6)).toBe(true);
    expect(await perf.recordQuality(sessionId, 8)).toBe(true);
    expect(await perf.recordQuality(sessionId, 8)).toBe(true);
    expect(await perf.recordQuality(randomUUID(), 8)).toBe(false);
    const rows = await dataSource.query('SELECT attempt, quality_score FROM agent_runs WHERE session_id = $1 ORDER BY attempt', [sessionId]);
    expect(rows).toEqual([
      { attempt: 1, quality_score: null },
      { attempt: 2, quality_score: '8' },
    ]);
    expect((await perf.summary(a.id, RECENT_RUNS)).recent).toMatchObject({ scoredRuns: 1, meanQuality: 8 });
    const [stats] = await dataSource.query('SELECT recent_scored_runs, recent_quality_sum, total_scored_runs, total_quality_sum FROM agent_stats WHERE agent_id = $1', [a.id]);
    expect(stats).toEqual({ recent_scored_runs: 1, recent_quality_sum: 8, total_scored_runs: 1, total_quality_sum: 8 });
  });

  it('gives every live agent to routing, new ones with empty figures, without deleted ones', async () => {
    const fresh = await newAgent('fresh');
    const gone = await newAgent('gone');
    await agents.softDelete(gone.id);
    const snapshot = await perf.routingSnapshot();
    expect(snapshot.find((s) => s.agent.id === fresh.id)?.recent).toEqual(EMPTY_SUMMARY);
    expect(snapshot.find((s) => s.agent.id === gone.id)).toBeUndefined();
    expect(snapshot.find((s) => s.agent.name === 'reviewer')?.agent.role).toBe(AgentRole.REVIEWER);
  });

  it('counts each agent\'s QUEUED and RUNNING sessions that are not deleted', async () => {
    const a = await newAgent('busy');
    const insertSession = (status: string, deleted = false) =>
      dataSource.query(
        `INSERT INTO sessions (id, title, prompt, workspace, agent, timeout_seconds, status, attempt, version, agent_id, deleted_at)
         VALUES ($1, 't', 'p', '/tmp', 'build', 60, $2, 1, 1, $3, $4)`,
        [randomUUID(), status, a.id, deleted ? new Date() : null],
      );
    for (const status of ['QUEUED', 'RUNNING', 'RUNNING', 'PENDING', 'COMPLETED']) await insertSession(status);
    await insertSession('RUNNING', true);
    try {
      expect((await perf.activeSessions()).get(a.id)).toBe(3);
    } finally {
      // Live-looking rows would be swept by another suite's recovery.
      await dataSource.query('DELETE FROM sessions WHERE agent_id = $1', [a.id]);
    }
  });
});

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager, QueryFailedError } from 'typeorm';
import { AgentPerformanceFigures, AgentPerformancePort, AgentStanding } from '../../application/ports/agent-performance.port';
import { AgentError } from '../../domain/agent.errors';
import { AgentRun, countsForPerformance, PerformanceSummary, RECENT_RUNS, tierOf } from '../../domain/performance';
import { AgentMapper } from './agent.mapper';
import { AgentOrmEntity, AgentStatsOrmEntity } from './agent.orm-entity';

const FOREIGN_KEY_VIOLATION = '23503';

/**
 * The figures of a set of runs, computed by PostgreSQL exactly as summarise() computes them in
 * TypeScript (percentile_cont interpolates like percentile()). Reads the columns of `w`.
 */
const FIGURES = `
  count(*)::int AS runs,
  (count(*) FILTER (WHERE outcome = 'COMPLETED'))::int AS successes,
  (count(*) FILTER (WHERE outcome = 'COMPLETED'))::float8 / nullif(count(*), 0) AS success_rate,
  avg(quality_score)::float8 AS mean_quality,
  coalesce(sum(quality_score), 0)::float8 AS quality_sum,
  count(quality_score)::int AS scored_runs,
  avg(cost_usd)::float8 AS mean_cost_usd,
  coalesce(sum(cost_usd), 0)::float8 AS cost_sum_usd,
  (sum(cost_usd) / nullif(count(*) FILTER (WHERE outcome = 'COMPLETED'), 0))::float8 AS cost_per_success_usd,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_duration_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_duration_ms`;

/** The last N counted runs of agent $1 (index idx_agent_runs_agent_finished), newest first. */
const RECENT_WINDOW = `
  SELECT outcome, duration_ms, cost_usd, quality_score FROM agent_runs
  WHERE agent_id = $1 AND outcome <> 'CANCELLED'
  ORDER BY finished_at DESC, id DESC
  LIMIT $2`;

interface FiguresRow {
  runs: number;
  successes: number;
  success_rate: number | null;
  mean_quality: number | null;
  quality_sum: number;
  scored_runs: number;
  mean_cost_usd: number | null;
  cost_sum_usd: number;
  cost_per_success_usd: number | null;
  p50_duration_ms: number | null;
  p95_duration_ms: number | null;
}

@Injectable()
export class TypeormAgentPerformanceRepository implements AgentPerformancePort {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async recordRun(run: AgentRun): Promise<boolean> {
    try {
      return await this.dataSource.transaction(async (em) => {
        const inserted: unknown[] = await em.query(
          `INSERT INTO agent_runs (agent_id, session_id, attempt, outcome, duration_ms, input_tokens, output_tokens,
                                   cost_usd, quality_score, finished_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (session_id, attempt) DO NOTHING
           RETURNING id`,
          [
            run.agentId,
            run.sessionId,
            run.attempt,
            run.outcome,
            Math.round(run.durationMs),
            run.inputTokens,
            run.outputTokens,
            run.costUsd,
            run.qualityScore,
            run.finishedAt,
          ],
        );
        if (inserted.length === 0) return false;
        const counted = countsForPerformance(run.outcome);
        const scored = counted && run.qualityScore !== null;
        await this.updateStats(em, run.agentId, {
          runs: counted ? 1 : 0,
          successes: counted && run.outcome === 'COMPLETED' ? 1 : 0,
          cancelled: counted ? 0 : 1,
          scoredRuns: scored ? 1 : 0,
          qualitySum: scored ? run.qualityScore! : 0,
          costSumUsd: counted ? run.costUsd : 0,
        });
        return true;
      });
    } catch (err) {
      const code = err instanceof QueryFailedError ? (err.driverError as { code?: string }).code : undefined;
      if (code === FOREIGN_KEY_VIOLATION) throw AgentError.notFound(run.agentId);
      throw err;
    }
  }

  async recordQuality(sessionId: string, qualityScore: number): Promise<boolean> {
    return this.dataSource.transaction(async (em) => {
      const [run]: Array<{ id: string; agent_id: string; outcome: AgentRun['outcome']; quality_score: string | null }> =
        await em.query(
          `SELECT id, agent_id, outcome, quality_score FROM agent_runs
           WHERE session_id = $1 ORDER BY attempt DESC LIMIT 1 FOR UPDATE`,
          [sessionId],
        );
      if (!run) return false;
      const previous = run.quality_score === null ? null : Number(run.quality_score);
      if (previous === qualityScore) return true;
      await em.query(`UPDATE agent_runs SET quality_score = $2 WHERE id = $1`, [run.id, qualityScore]);
      const counted = countsForPerformance(run.outcome);
      await this.updateStats(em, run.agent_id, {
        ...NO_CHANGE,
        scoredRuns: counted && previous === null ? 1 : 0,
        qualitySum: counted ? qualityScore - (previous ?? 0) : 0,
      });
      return true;
    });
  }

  async summary(agentId: string, lastN: number): Promise<AgentPerformanceFigures> {
    const rows: Array<FiguresRow & { scope: 'recent' | 'allTime' }> = await this.dataSource.query(
      `WITH counted AS (
         SELECT outcome, duration_ms, cost_usd, quality_score,
                row_number() OVER (ORDER BY finished_at DESC, id DESC) AS rn
         FROM agent_runs WHERE agent_id = $1 AND outcome <> 'CANCELLED')
       SELECT 'recent' AS scope, ${FIGURES} FROM counted WHERE rn <= $2
       UNION ALL
       SELECT 'allTime' AS scope, ${FIGURES} FROM counted`,
      [agentId, lastN],
    );
    const of = (w: string) => toSummary(rows.find((r) => r.scope === w)!);
    return { recent: of('recent'), allTime: of('allTime') };
  }

  async routingSnapshot(): Promise<AgentStanding[]> {
    const rows = await this.dataSource
      .getRepository(AgentOrmEntity)
      .createQueryBuilder('a')
      .leftJoinAndMapOne('a.stats', AgentStatsOrmEntity, 's', 's.agent_id = a.id')
      .where('a.deleted_at IS NULL')
      .orderBy('a.name', 'ASC')
      .addOrderBy('a.id', 'ASC')
      .getMany();
    return rows.map((row) => ({ agent: AgentMapper.toDomain(row), recent: AgentMapper.recentOf(row.stats) }));
  }

  /** Reads the session context's table (sessions.agent_id, index idx_sessions_agent_active). */
  async activeSessions(): Promise<Map<string, number>> {
    const rows: Array<{ agent_id: string; active: number }> = await this.dataSource.query(
      `SELECT agent_id, count(*)::int AS active FROM sessions
       WHERE agent_id IS NOT NULL AND status IN ('QUEUED','RUNNING') AND deleted_at IS NULL
       GROUP BY agent_id`,
    );
    return new Map(rows.map((r) => [r.agent_id, r.active]));
  }

  /**
   * Recomputes the recent window and adds the change to the totals. Locking the stats row first
   * serialises concurrent writers of one agent, so the window is read after every earlier run committed.
   */
  private async updateStats(em: EntityManager, agentId: string, add: TotalsChange): Promise<void> {
    await em.query(
      `INSERT INTO agent_stats (agent_id) VALUES ($1) ON CONFLICT (agent_id) DO UPDATE SET updated_at = now()`,
      [agentId],
    );
    const [w]: FiguresRow[] = await em.query(`WITH w AS (${RECENT_WINDOW}) SELECT ${FIGURES} FROM w`, [agentId, RECENT_RUNS]);
    await em.query(
      `UPDATE agent_stats SET
         recent_runs = $2, recent_successes = $3, recent_scored_runs = $4, recent_quality_sum = $5,
         recent_cost_sum_usd = $6, recent_p50_duration_ms = $7, recent_p95_duration_ms = $8,
         total_runs = total_runs + $9, total_successes = total_successes + $10, total_cancelled = total_cancelled + $11,
         total_scored_runs = total_scored_runs + $12, total_quality_sum = total_quality_sum + $13,
         total_cost_sum_usd = total_cost_sum_usd + $14, tier = $15, updated_at = now()
       WHERE agent_id = $1`,
      [
        agentId,
        w.runs,
        w.successes,
        w.scored_runs,
        w.quality_sum,
        w.cost_sum_usd,
        w.p50_duration_ms,
        w.p95_duration_ms,
        add.runs,
        add.successes,
        add.cancelled,
        add.scoredRuns,
        add.qualitySum,
        add.costSumUsd,
        tierOf(toSummary(w)),
      ],
    );
  }
}

/** What a write adds to an agent's all-time totals. */
interface TotalsChange {
  runs: number;
  successes: number;
  cancelled: number;
  scoredRuns: number;
  qualitySum: number;
  costSumUsd: number;
}
const NO_CHANGE: TotalsChange = { runs: 0, successes: 0, cancelled: 0, scoredRuns: 0, qualitySum: 0, costSumUsd: 0 };

function toSummary(r: FiguresRow): PerformanceSummary {
  return {
    runs: r.runs,
    successes: r.successes,
    successRate: r.success_rate,
    meanQuality: r.mean_quality,
    scoredRuns: r.scored_runs,
    meanCostUsd: r.mean_cost_usd,
    costPerSuccessUsd: r.cost_per_success_usd,
    p50DurationMs: r.p50_duration_ms,
    p95DurationMs: r.p95_duration_ms,
  };
}

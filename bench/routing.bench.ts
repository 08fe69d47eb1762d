/**
 * npm run bench:routing — routing among 1,000 agents with 10,000 stored runs each (10,000,000
 * agent_runs rows) through the real AgentService, built by AgentModule (real TypeORM repositories,
 * real DataSource), against a naive router that computes every agent's figures from agent_runs on
 * each decision.
 * Goal (the issue): a routing decision in under 5 ms p99 at that size.
 *
 * Database orchestrator_bench_routing (local PostgreSQL), created and migrated with the
 * project's own helpers, then seeded with set-based SQL:
 *  - 1,000 live agents: the 4 default agents of the migration + 996 generated ones (varied roles,
 *    2-8 capabilities from a pool of 30 skills at levels 1-5, ~8% disabled, 1-20 sessions at once),
 *    each built by Agent.create (so every row passes the domain's checks);
 *  - 10,000 runs per agent, time-interleaved across agents (run n finishes 250 ms after run n-1,
 *    as a table that grows with time would be), each agent with its own success rate, cancel
 *    rate, review coverage and quality, cost and duration; one run in 20 is attempt 2 of the
 *    agent's previous session. Inserted by INSERT ... SELECT FROM generate_series in chunks on
 *    two connections (agents split between them), with every index and the foreign key in place;
 *  - agent_stats for every agent written by the repository's own recompute (its updateStats: the
 *    recent-window SQL and tierOf), the all-time totals summed in one GROUP BY over agent_runs,
 *    checked against summary() for a few agents on every run;
 *  - QUEUED/RUNNING sessions with agent_id (some agents saturated, some idle) and finished ones.
 * A complete seed (counts checked, plus a marker in the database comment written last) is reused
 * by later runs; anything else is dropped and seeded again (or BENCH_RESEED=1).
 *
 * Measured, in one process, one request at a time:
 *  (1) warm decision: AgentService.pickRanked() (what a session's routing calls: the best agent,
 *      explained) for random work (random role or none, 1-3 skills, complexity 1-10) for a fixed
 *      time; the snapshot (1 s) and load (250 ms) refresh in the background as in production;
 *  (1r) the full explained listing, route() (POST /api/v1/agents/route): every agent ranked or skipped;
 *  (1b) (1) with the snapshot dropped 10 times a second (as agent writes through the process would);
 *  (2) cold: the snapshot dropped before each decision: snapshot read + load read + ranking;
 *  (3) rankAgents() alone over the 1,000 candidates; then the parts on their own (load query,
 *      snapshot read through TypeORM and as raw rows, with EXPLAIN ANALYZE server times) and the
 *      GC pauses that overlapped the slow calls;
 *  peer: naive router = agents + per-agent figures over the last 50 counted runs computed from
 *      agent_runs with a window function (row_number() OVER (PARTITION BY agent_id ...)) + the same
 *      load read + the same rankAgents(); a few decisions only (it is slow). For reference, also a
 *      smarter naive router (LATERAL ... LIMIT 50 per agent through the index).
 *
 * The naive routers' decisions are checked to be AgentService's (same agents, order and scores),
 * so they differ only in where the figures come from.
 *
 * Env: BENCH_RESEED (0), BENCH_WARM_MS (15000), BENCH_WRITES_MS (5000), BENCH_INVALIDATIONS_PER_SEC (10),
 * BENCH_COLD (150), BENCH_RANK_MS (4000), BENCH_PEER_DECISIONS (3), BENCH_LATERAL_DECISIONS (40).
 */
import 'reflect-metadata';
import { cpus, loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import {
  Agent,
  AGENT_PERFORMANCE,
  AGENT_ROLES,
  AgentModule,
  AgentPerformancePort,
  AgentRole,
  AgentService,
  AgentStanding,
  Capability,
  EMPTY_SUMMARY,
  PerformanceSummary,
  rankAgents,
  READ_ONLY_ROLES,
  RECENT_RUNS,
  RoutingCandidate,
  RoutingDecision,
  tierOf,
  WorkRequest,
} from '@app/agent';
import { AppConfig } from '@app/config';
import { dataSourceOptions, ensureDatabase, runMigrations } from '@app/migrations';
import { percentile, runPool } from './support/stats';
import { dropDatabase } from './support/bench-database';
import { seededRandom } from './support/seeded-random';

const DB_NAME = 'orchestrator_bench_routing';
const AGENTS = 1000;
const RUNS_PER_AGENT = 10_000;
const TOTAL_RUNS = AGENTS * RUNS_PER_AGENT;
const RUN_SPACING_MS = 250;
const SEED_LANES = 2;
const CHUNK_K = 1000; // runs per agent per INSERT statement (500 agents x 1,000 = 500,000 rows)
const FINISHED_SESSIONS = 20_000;
/** Bump when the seed changes: an older seed is then dropped and made again. */
const SEED_SPEC = `bench-routing seed v1: agents=${AGENTS} runs/agent=${RUNS_PER_AGENT}`;

const RESEED = process.env.BENCH_RESEED === '1';
const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 15_000);
const COLD_DECISIONS = Number(process.env.BENCH_COLD ?? 150);
const RANK_MS = Number(process.env.BENCH_RANK_MS ?? 4000);
const PEER_DECISIONS = Number(process.env.BENCH_PEER_DECISIONS ?? 3);
const LATERAL_DECISIONS = Number(process.env.BENCH_LATERAL_DECISIONS ?? 40);
const WRITES_MS = Number(process.env.BENCH_WRITES_MS ?? 5000);
/** Runs recorded per second through this process in (1b): each one drops the routing snapshot. */
const INVALIDATIONS_PER_SEC = Number(process.env.BENCH_INVALIDATIONS_PER_SEC ?? 10);
const GOAL_P99_MS = 5;

const SKILLS = [
  'typescript', 'javascript', 'python', 'go', 'rust', 'java', 'kotlin', 'csharp', 'sql', 'postgresql',
  'redis', 'testing', 'refactoring', 'architecture', 'api-design', 'documentation', 'code-review', 'security',
  'debugging', 'performance', 'react', 'css', 'nestjs', 'docker', 'kubernetes', 'terraform', 'ci', 'graphql',
  'observability', 'data-modeling',
];

/** The root of the bench's Nest context: AgentModule and a TypeORM root are imported where it is created. */
@Module({})
class RoutingBenchModule {}

const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const between = (rnd: () => number, lo: number, hi: number) => lo + (hi - lo) * rnd();
function sample<T>(rnd: () => number, xs: readonly T[], n: number): T[] {
  const pool = [...xs];
  const out: T[] = [];
  while (out.length < n) out.push(pool.splice(Math.floor(rnd() * pool.length), 1)[0]);
  return out;
}

/** How an agent's runs are drawn. */
interface Profile {
  id: string;
  lane: number;
  ord: number;
  success: number;
  cancel: number;
  timedOutShare: number;
  scored: number;
  quality: number;
  cost: number;
  duration: number;
}

interface Seeded {
  agents: number;
  runs: number;
  stats: number;
  activeSessions: number;
}

const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms = (x: number) => `${x < 10 ? x.toFixed(3) : x.toFixed(1)} ms`;

// ---------------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------------

function generatedAgents(): Agent[] {
  const rnd = seededRandom(20_251);
  const roles: AgentRole[] = [
    ...Array(4).fill(AgentRole.IMPLEMENTER),
    ...Array(2).fill(AgentRole.REVIEWER),
    ...Array(2).fill(AgentRole.DEBUGGER),
    AgentRole.ARCHITECT,
    AgentRole.ARCHITECT,
  ];
  const limits = [1, 2, 3, 3, 5, 5, 5, 8, 10, 20];
  const agents: Agent[] = [];
  for (let i = 0; i < AGENTS - 4; i++) {
    const role = pick(rnd, roles);
    const capabilities: Capability[] = sample(rnd, SKILLS, 2 + Math.floor(rnd() * 7)).map((skill) => ({
      skill,
      level: 1 + Math.floor(rnd() * 5),
    }));
    const on = rnd() >= 0.08;
    agents.push(
      Agent.create({
        name: `bench-${role.toLowerCase()}-${String(i).padStart(4, '0')}`,
        role,
        capabilities,
        maxConcurrentSessions: pick(rnd, limits),
        enabled: on,
        binding: {
          opencodeAgent: READ_ONLY_ROLES.includes(role) ? 'plan' : 'build',
          model: rnd() < 0.5 ? null : pick(rnd, ['anthropic/claude-sonnet-4-5', 'openai/gpt-5', 'anthropic/claude-opus-4-1']),
          systemInstructions: `You are bench agent ${i}.`,
          disabledTools: [],
        },
      }),
    );
  }
  return agents;
}

async function counts(ds: DataSource): Promise<Seeded & { marker: string | null }> {
  const [row]: Array<Seeded & { marker: string | null }> = await ds.query(
    `SELECT (SELECT count(*)::int FROM agents WHERE deleted_at IS NULL) AS agents,
            (SELECT count(*)::int FROM agent_runs) AS runs,
            (SELECT count(*)::int FROM agent_stats WHERE total_runs + total_cancelled = $1) AS stats,
            (SELECT count(*)::int FROM sessions WHERE agent_id IS NOT NULL AND status IN ('QUEUED','RUNNING')
                AND deleted_at IS NULL) AS "activeSessions",
            shobj_description((SELECT oid FROM pg_database WHERE datname = current_database()), 'pg_database') AS marker`,
    [RUNS_PER_AGENT],
  );
  return row;
}

async function seed(ds: DataSource, perf: AgentPerformancePort): Promise<Record<string, number>> {
  const timings: Record<string, number> = {};
  const step = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const result = await work();
    timings[name] = performance.now() - t0;
    console.log(`  ${name}: ${sec(timings[name])}`);
    return result;
  };

  // Agents: the 4 defaults (already there) + 996 generated.
  const agents = generatedAgents();
  await step('agents', async () => {
    const rows = agents.map((a) => {
      const s = a.snapshot();
      return {
        id: s.id,
        name: s.name,
        role: s.role,
        capabilities: s.capabilities,
        max_concurrent_sessions: s.maxConcurrentSessions,
        enabled: s.enabled,
        opencode_agent: s.binding.opencodeAgent,
        model: s.binding.model,
        system_instructions: s.binding.systemInstructions,
        disabled_tools: s.binding.disabledTools,
      };
    });
    await ds.query(
      `INSERT INTO agents (id, name, role, capabilities, max_concurrent_sessions, enabled, opencode_agent, model,
                           system_instructions, disabled_tools, version)
       SELECT id, name, role, capabilities, max_concurrent_sessions, enabled, opencode_agent, model,
              system_instructions, disabled_tools, 1
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, name text, role text, capabilities jsonb,
            max_concurrent_sessions int, enabled boolean, opencode_agent text, model text,
            system_instructions text, disabled_tools jsonb)`,
      [JSON.stringify(rows)],
    );
  });

  // Per-agent profiles: ord is the agent's place in the time-interleaved run sequence.
  const ids: Array<{ id: string }> = await ds.query(`SELECT id FROM agents WHERE deleted_at IS NULL ORDER BY name, id`);
  if (ids.length !== AGENTS) throw new Error(`expected ${AGENTS} live agents, found ${ids.length}`);
  const rnd = seededRandom(7_919);
  const profiles: Profile[] = ids.map(({ id }, ord) => {
    // Most agents are good, some are not: success 0.55-0.995 skewed high.
    const success = 0.995 - 0.445 * rnd() ** 2.5;
    return {
      id,
      ord,
      lane: ord % SEED_LANES,
      success,
      cancel: between(rnd, 0.005, 0.05),
      timedOutShare: between(rnd, 0.05, 0.4),
      scored: between(rnd, 0.1, 0.9),
      quality: between(rnd, 4, 9.6),
      cost: 0.02 * Math.exp(between(rnd, 0, Math.log(100))), // $0.02-$2 per run
      duration: 1000 * Math.exp(between(rnd, Math.log(20), Math.log(1800))), // 20 s - 30 min
    };
  });

  // Runs: run n = k * AGENTS + ord is agent ord's k-th run, finishing RUN_SPACING_MS after run n-1.
  await step('agent_runs (10,000,000 rows)', async () => {
    const chunks = RUNS_PER_AGENT / CHUNK_K;
    const base = Date.now() - TOTAL_RUNS * RUN_SPACING_MS;
    let done = 0;
    // One connection per half of the agents, so the two never lock the same agents rows (foreign key).
    await Promise.all(
      Array.from({ length: SEED_LANES }, async (_, lane) => {
        const q = ds.createQueryRunner();
        await q.connect();
        try {
          const mine = JSON.stringify(profiles.filter((p) => p.lane === lane));
          for (let c = 0; c < chunks; c++) {
            await q.query(insertRunsSql, [mine, c * CHUNK_K, (c + 1) * CHUNK_K - 1, base]);
            done++;
            process.stdout.write(`\r    ${((done / (SEED_LANES * chunks)) * (TOTAL_RUNS / 1e6)).toFixed(1)}M rows`);
          }
        } finally {
          await q.release();
        }
      }),
    );
    process.stdout.write('\n');
  });

  // Sessions: some agents idle, most with a few live sessions, some saturated; deleted and
  // finished ones that the load query must not count.
  await step('sessions', async () => {
    const srnd = seededRandom(104_729);
    const live = agents.map((a) => {
      const u = srnd();
      const max = a.maxConcurrentSessions;
      const n = u < 0.3 ? 0 : u < 0.4 ? max : Math.floor(srnd() * max);
      return { agent_id: a.id, n, deleted: srnd() < 0.05 ? 1 : 0 };
    });
    await ds.query(
      `INSERT INTO sessions (id, title, prompt, workspace, agent, timeout_seconds, status, attempt, version, agent_id,
                             queued_at, started_at, deleted_at)
       SELECT gen_random_uuid(), 'bench session', 'bench', '/tmp/bench', 'build', 3600,
              CASE WHEN g % 3 = 0 THEN 'QUEUED' ELSE 'RUNNING' END, 1, 1, x.agent_id,
              now(), CASE WHEN g % 3 = 0 THEN NULL ELSE now() END, CASE WHEN g > x.n THEN now() END
       FROM jsonb_to_recordset($1::jsonb) AS x(agent_id uuid, n int, deleted int),
            generate_series(1, x.n + x.deleted) g`,
      [JSON.stringify(live)],
    );
    await ds.query(
      `INSERT INTO sessions (id, title, prompt, workspace, agent, timeout_seconds, status, attempt, version, agent_id,
                             queued_at, started_at, finished_at)
       SELECT gen_random_uuid(), 'bench session', 'bench', '/tmp/bench', 'build', 3600,
              (ARRAY['COMPLETED','FAILED','TIMED_OUT','CANCELLED'])[1 + g % 4], 1, 1, a.ids[1 + g % $2],
              now() - interval '1 hour', now() - interval '1 hour', now()
       FROM (SELECT array_agg(id ORDER BY id) AS ids FROM agents) a, generate_series(1, $1) g`,
      [FINISHED_SESSIONS, AGENTS],
    );
  });

  await step('vacuum + analyze', async () => {
    // Now, rather than by autovacuum in the middle of the measurements (10M inserts trigger it).
    for (const t of ['agent_runs', 'agents', 'sessions']) await ds.query(`VACUUM (ANALYZE) ${t}`);
  });

  // agent_stats: the all-time totals in one GROUP BY, the recent window and the tier by the
  // repository's own updateStats (its recent-window SQL, its tierOf), one transaction per agent.
  await step('agent_stats (totals + repository recompute)', async () => {
    const totals: Array<{
      agent_id: string;
      runs: number;
      successes: number;
      cancelled: number;
      scored_runs: number;
      quality_sum: number;
      cost_sum_usd: number;
    }> = await ds.query(
      `SELECT agent_id,
              (count(*) FILTER (WHERE outcome <> 'CANCELLED'))::int AS runs,
              (count(*) FILTER (WHERE outcome = 'COMPLETED'))::int AS successes,
              (count(*) FILTER (WHERE outcome = 'CANCELLED'))::int AS cancelled,
              (count(quality_score) FILTER (WHERE outcome <> 'CANCELLED'))::int AS scored_runs,
              coalesce(sum(quality_score) FILTER (WHERE outcome <> 'CANCELLED'), 0)::float8 AS quality_sum,
              coalesce(sum(cost_usd) FILTER (WHERE outcome <> 'CANCELLED'), 0)::float8 AS cost_sum_usd
       FROM agent_runs GROUP BY agent_id`,
    );
    await runPool(totals.length, 4, async (i) => {
      const t = totals[i];
      await ds.transaction((em) =>
        // The repository's private recompute, exactly as recordRun calls it (totals added to a new row).
        (perf as unknown as StatsRecompute).updateStats(em, t.agent_id, {
          runs: t.runs,
          successes: t.successes,
          cancelled: t.cancelled,
          scoredRuns: t.scored_runs,
          qualitySum: t.quality_sum,
          costSumUsd: t.cost_sum_usd,
        }),
      );
    });
    await ds.query(`VACUUM (ANALYZE) agent_stats`);
  });
  return timings;
}

/**
 * The private recompute of the TypeORM repository behind AGENT_PERFORMANCE (updateStats): the seed
 * writes agent_stats with the repository's own SQL rather than a copy of it.
 */
interface StatsRecompute {
  updateStats(
    em: EntityManager,
    agentId: string,
    add: { runs: number; successes: number; cancelled: number; scoredRuns: number; qualitySum: number; costSumUsd: number },
  ): Promise<void>;
}

/** The agent_stats columns the check reads (entity agent_stats, by property). */
interface StatsRow {
  agentId: string;
  tier: string;
  totalRuns: number;
  totalSuccesses: number;
  totalScoredRuns: number;
  totalQualitySum: number;
  totalCostSumUsd: number;
}

/** One chunk of runs for the agents of one lane: agent profiles in $1, runs k = $2..$3 of each, run 0 at $4 (epoch ms). */
const insertRunsSql = `
  WITH p AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, ord int, success float8, cancel float8,
      "timedOutShare" float8, scored float8, quality float8, cost float8, duration float8)),
  r AS (
    SELECT p.*, k, k::bigint * ${AGENTS} + p.ord AS n, random() AS u
    FROM generate_series($2::int, $3::int) k CROSS JOIN p)
  INSERT INTO agent_runs (agent_id, session_id, attempt, outcome, duration_ms, input_tokens, output_tokens,
                          cost_usd, quality_score, finished_at)
  SELECT id,
         -- One run in 20 is attempt 2 of the agent's previous session.
         ('00000000-0000-4000-8000-' || lpad(to_hex(CASE WHEN k % 20 = 19 THEN n - ${AGENTS} ELSE n END), 12, '0'))::uuid,
         CASE WHEN k % 20 = 19 THEN 2 ELSE 1 END,
         CASE WHEN u < cancel THEN 'CANCELLED'
              WHEN u < cancel + (1 - cancel) * success THEN 'COMPLETED'
              WHEN random() < "timedOutShare" THEN 'TIMED_OUT'
              ELSE 'FAILED' END,
         (duration * exp((random() + random() + random() - 1.5) * 1.2))::int,
         (2000 + random() * 60000)::bigint,
         (500 + random() * 15000)::bigint,
         round((cost * (0.3 + 1.4 * random()))::numeric, 6),
         CASE WHEN random() < scored THEN round(least(10, greatest(0, quality + (random() - 0.5) * 4))::numeric, 1) END,
         to_timestamp(($4::float8 + n * ${RUN_SPACING_MS}) / 1000)
  FROM r`;

/** A few agents' agent_stats (as routing reads them) against summary() computed from agent_runs. */
async function verifyStats(ds: DataSource, perf: AgentPerformancePort, standings: AgentStanding[]): Promise<string> {
  const rnd = seededRandom(31);
  const chosen = [standings[0], ...sample(rnd, standings, 5)];
  const stats = await ds.getRepository<StatsRow>('agent_stats').findBy(chosen.map((s) => ({ agentId: s.agent.id })));
  const problems: string[] = [];
  const close = (a: number | null, b: number | null) =>
    a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b)));
  for (const s of chosen) {
    const { recent, allTime } = await perf.summary(s.agent.id, RECENT_RUNS);
    for (const key of Object.keys(recent) as Array<keyof PerformanceSummary>) {
      if (!close(s.recent[key], recent[key])) problems.push(`${s.agent.name} recent.${key}: stats ${s.recent[key]}, summary ${recent[key]}`);
    }
    const st = stats.find((x) => x.agentId === s.agent.id)!;
    if (st.tier !== tierOf(recent)) problems.push(`${s.agent.name} tier: stats ${st.tier}, summary ${tierOf(recent)}`);
    const all: Array<[string, number | null, number | null]> = [
      ['runs', st.totalRuns, allTime.runs],
      ['successes', st.totalSuccesses, allTime.successes],
      ['scoredRuns', st.totalScoredRuns, allTime.scoredRuns],
      ['meanQuality', st.totalScoredRuns ? st.totalQualitySum / st.totalScoredRuns : null, allTime.meanQuality],
      ['meanCostUsd', st.totalRuns ? st.totalCostSumUsd / st.totalRuns : null, allTime.meanCostUsd],
    ];
    for (const [key, a, b] of all) if (!close(a, b)) problems.push(`${s.agent.name} allTime.${key}: stats ${a}, summary ${b}`);
  }
  if (problems.length) throw new Error(`agent_stats does not match summary():\n  ${problems.join('\n  ')}`);
  return `${chosen.length} agents (${chosen.map((s) => s.agent.name).join(', ')}): agent_stats = summary() (recent window, tier, all-time)`;
}

// ---------------------------------------------------------------------------------------------
// The peers
// ---------------------------------------------------------------------------------------------

/** The figures of the recent window, as the repository computes them (its FIGURES list). */
const FIGURES = `
  count(*)::int AS runs,
  (count(*) FILTER (WHERE outcome = 'COMPLETED'))::int AS successes,
  (count(*) FILTER (WHERE outcome = 'COMPLETED'))::float8 / nullif(count(*), 0) AS success_rate,
  avg(quality_score)::float8 AS mean_quality,
  count(quality_score)::int AS scored_runs,
  avg(cost_usd)::float8 AS mean_cost_usd,
  (sum(cost_usd) / nullif(count(*) FILTER (WHERE outcome = 'COMPLETED'), 0))::float8 AS cost_per_success_usd,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50_duration_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_duration_ms`;

/** The named peer: every agent's last 50 counted runs picked by a window function over agent_runs. */
const WINDOW_FIGURES_SQL = `
  WITH w AS (
    SELECT agent_id, outcome, duration_ms, cost_usd, quality_score,
           row_number() OVER (PARTITION BY agent_id ORDER BY finished_at DESC, id DESC) AS rn
    FROM agent_runs WHERE outcome <> 'CANCELLED')
  SELECT agent_id, ${FIGURES} FROM w WHERE rn <= ${RECENT_RUNS} GROUP BY agent_id`;

/** Reference only: the same figures through the index, one LIMIT 50 per agent. */
const LATERAL_FIGURES_SQL = `
  SELECT a.id AS agent_id, f.* FROM agents a CROSS JOIN LATERAL (
    SELECT ${FIGURES} FROM (
      SELECT outcome, duration_ms, cost_usd, quality_score FROM agent_runs r
      WHERE r.agent_id = a.id AND r.outcome <> 'CANCELLED'
      ORDER BY r.finished_at DESC, r.id DESC LIMIT ${RECENT_RUNS}) w) f
  WHERE a.deleted_at IS NULL`;

interface FigureRow {
  agent_id: string;
  runs: number;
  successes: number;
  success_rate: number | null;
  mean_quality: number | null;
  scored_runs: number;
  mean_cost_usd: number | null;
  cost_per_success_usd: number | null;
  p50_duration_ms: number | null;
  p95_duration_ms: number | null;
}

/** A router without agent_stats: reads the agents, computes their figures from the runs, ranks. */
function naiveRouter(ds: DataSource, perf: AgentPerformancePort, figuresSql: string) {
  return async (work: WorkRequest): Promise<RoutingDecision> => {
    const [agents, figures, active] = await Promise.all([
      ds.query(
        `SELECT id, name, role, enabled, max_concurrent_sessions, capabilities FROM agents
         WHERE deleted_at IS NULL ORDER BY name, id`,
      ) as Promise<Array<{ id: string; name: string; role: AgentRole; enabled: boolean; max_concurrent_sessions: number; capabilities: Capability[] }>>,
      ds.query(figuresSql) as Promise<FigureRow[]>,
      perf.activeSessions(),
    ]);
    const byAgent = new Map(figures.map((f) => [f.agent_id, f]));
    const candidates: RoutingCandidate[] = agents.map((a) => {
      const f = byAgent.get(a.id);
      const recent: PerformanceSummary =
        f && f.runs > 0
          ? {
              runs: f.runs,
              successes: f.successes,
              successRate: f.success_rate,
              meanQuality: f.mean_quality,
              scoredRuns: f.scored_runs,
              meanCostUsd: f.mean_cost_usd,
              costPerSuccessUsd: f.cost_per_success_usd,
              p50DurationMs: f.p50_duration_ms,
              p95DurationMs: f.p95_duration_ms,
            }
          : EMPTY_SUMMARY;
      return {
        agent: { id: a.id, name: a.name, role: a.role, enabled: a.enabled, maxConcurrentSessions: a.max_concurrent_sessions, capabilities: a.capabilities },
        recent,
        activeSessions: active.get(a.id) ?? 0,
      };
    });
    return rankAgents(work, candidates);
  };
}

/** The same ranking, or where two decisions part. */
function sameDecision(a: RoutingDecision, b: RoutingDecision): string | null {
  if (a.ranked.length !== b.ranked.length) return `${a.ranked.length} vs ${b.ranked.length} ranked`;
  for (let i = 0; i < a.ranked.length; i++) {
    const x = a.ranked[i];
    const y = b.ranked[i];
    if (x.agentId !== y.agentId || Math.abs(x.score - y.score) > 2e-6) return `rank ${i + 1}: ${x.name} ${x.score} vs ${y.name} ${y.score}`;
  }
  if (a.skipped.length !== b.skipped.length) return `${a.skipped.length} vs ${b.skipped.length} skipped`;
  return null;
}

// ---------------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------------

function workRequests(count: number): WorkRequest[] {
  const rnd = seededRandom(4_242);
  return Array.from({ length: count }, () => ({
    role: rnd() < 0.3 ? undefined : pick(rnd, AGENT_ROLES),
    skills: sample(rnd, SKILLS, 1 + Math.floor(rnd() * 3)),
    complexity: 1 + Math.floor(rnd() * 10),
  }));
}

interface Timed {
  count: number;
  seconds: number;
  latencies: number[];
  /** performance.now() at the start of each call. */
  starts: number[];
}

async function timedLoop(works: WorkRequest[], budgetMs: number, maxCount: number, call: (w: WorkRequest, i: number) => Promise<unknown> | unknown): Promise<Timed> {
  const latencies: number[] = [];
  const starts: number[] = [];
  const start = performance.now();
  let i = 0;
  while (i < maxCount && performance.now() - start < budgetMs) {
    const w = works[i % works.length];
    const t0 = performance.now();
    await call(w, i);
    latencies.push(performance.now() - t0);
    starts.push(t0);
    i++;
  }
  return { count: i, seconds: (performance.now() - start) / 1000, latencies, starts };
}

/** Garbage-collection pauses of this process while `work` runs. */
async function withGc<T>(work: () => Promise<T>): Promise<{ result: T; pauses: Array<{ start: number; end: number }> }> {
  const pauses: Array<{ start: number; end: number }> = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, end: e.startTime + e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  const result = await work();
  await sleep(50); // the observer is told asynchronously
  observer.disconnect();
  return { result, pauses };
}

/** How much GC there was, and how many of the calls slower than `slowMs` overlapped a pause. */
function gcReport(t: Timed, pauses: Array<{ start: number; end: number }>, slowMs: number): string {
  const total = pauses.reduce((sum, p) => sum + p.end - p.start, 0);
  const longest = pauses.reduce((m, p) => Math.max(m, p.end - p.start), 0);
  let slow = 0;
  let slowWithGc = 0;
  for (let i = 0; i < t.count; i++) {
    if (t.latencies[i] < slowMs) continue;
    slow++;
    const a = t.starts[i];
    const b = a + t.latencies[i];
    if (pauses.some((p) => p.start < b && p.end > a)) slowWithGc++;
  }
  return (
    `GC: ${pauses.length} pauses, ${ms(total)} = ${((100 * total) / (t.seconds * 1000)).toFixed(1)}% of the time, longest ${ms(longest)}; ` +
    `${slow} calls took >= ${slowMs} ms, ${slowWithGc} of them during a GC pause`
  );
}

const line = (label: string, t: Timed, extra = '') =>
  `${label.padEnd(44)} ${String(t.count).padStart(7)} decisions ${(t.count / t.seconds).toFixed(1).padStart(9)}/s  ` +
  `p50 ${ms(percentile(t.latencies, 50)).padStart(9)}  p99 ${ms(percentile(t.latencies, 99)).padStart(9)}  max ${ms(t.latencies.reduce((m, x) => Math.max(m, x), 0)).padStart(9)}${extra}`;

async function main(): Promise<void> {
  const started = performance.now();
  const config = AppConfig.with({ DB_NAME, LOG_LEVEL: 'error' });

  // Reuse a complete seed; drop anything else and start again.
  await ensureDatabase(config);
  const check = new DataSource({ ...dataSourceOptions(config), logging: false });
  await check.initialize();
  const check0 = performance.now();
  const existing = await counts(check).catch(() => null);
  const complete =
    !RESEED &&
    existing !== null &&
    existing.marker?.startsWith(SEED_SPEC) === true &&
    existing.agents === AGENTS &&
    existing.runs === TOTAL_RUNS &&
    existing.stats === AGENTS &&
    existing.activeSessions > 0;
  const checkMs = performance.now() - check0;
  await check.destroy();
  if (!complete) {
    console.log(
      existing
        ? `database ${DB_NAME} is not a complete seed (${JSON.stringify(existing)}${RESEED ? ', BENCH_RESEED=1' : ''}): dropping it`
        : `database ${DB_NAME} has no schema yet`,
    );
    await dropDatabase(config);
    const t0 = performance.now();
    const applied = await runMigrations(config);
    console.log(`created ${DB_NAME}, applied ${applied.length} migrations in ${sec(performance.now() - t0)}`);
  }

  // AgentService and its repositories as the apps wire them: AgentModule over a TypeORM root.
  const app = await NestFactory.createApplicationContext(
    { module: RoutingBenchModule, imports: [TypeOrmModule.forRoot({ ...dataSourceOptions(config), logging: false }), AgentModule] },
    { logger: false },
  );
  const ds = app.get(DataSource);
  const service = app.get(AgentService);
  const perf = app.get<AgentPerformancePort>(AGENT_PERFORMANCE);
  let seeded = false;
  let seedTimings: Record<string, number> = {};
  if (!complete) {
    console.log(`seeding ${AGENTS} agents x ${RUNS_PER_AGENT} runs = ${TOTAL_RUNS.toLocaleString('en')} agent_runs rows...`);
    const s0 = performance.now();
    seedTimings = await seed(ds, perf);
    seedTimings.total = performance.now() - s0;
    await ds.query(`COMMENT ON DATABASE ${DB_NAME} IS '${SEED_SPEC}; seeded in ${(seedTimings.total / 1000).toFixed(1)} s at ${new Date().toISOString()}'`);
    seeded = true;
  }

  let refreshes = 0;
  const snapshotRead = perf.routingSnapshot.bind(perf);
  // Counted only: the service reads the snapshot through the real repository.
  perf.routingSnapshot = () => {
    refreshes++;
    return snapshotRead();
  };

  try {
    const now = await counts(ds);
    const [sizes]: Array<{ runs: string; runs_idx: string; pg: string }> = await ds.query(
      `SELECT pg_size_pretty(pg_relation_size('agent_runs')) AS runs, pg_size_pretty(pg_indexes_size('agent_runs')) AS runs_idx,
              split_part(version(), ' ', 2) AS pg`,
    );
    const standings = await snapshotRead();
    const active = await perf.activeSessions();
    const enabled = standings.filter((s) => s.agent.enabled).length;
    const saturated = standings.filter((s) => (active.get(s.agent.id) ?? 0) >= s.agent.maxConcurrentSessions).length;

    console.log('');
    console.log(
      `routing benchmark: PostgreSQL ${sizes.pg}, Node ${process.version}, ${cpus().length} CPUs, load average ${loadAverage()}, database ${DB_NAME}`,
    );
    if (seeded) {
      console.log(
        `seeding took ${sec(seedTimings.total)} (${Object.entries(seedTimings)
          .filter(([k]) => k !== 'total')
          .map(([k, v]) => `${k.split(' ')[0]} ${sec(v)}`)
          .join(', ')})`,
      );
    } else {
      console.log(`reusing the seeded database (checked in ${sec(checkMs)}; ${existing?.marker})`);
    }
    console.log(
      `data: ${now.agents} live agents (${enabled} enabled, ${saturated} saturated), ${now.runs.toLocaleString('en')} agent_runs ` +
        `(${sizes.runs} heap + ${sizes.runs_idx} indexes), ${now.stats} agent_stats rows, ${now.activeSessions} QUEUED/RUNNING sessions ` +
        `over ${active.size} agents`,
    );
    console.log(`check: ${await verifyStats(ds, perf, standings)}`);

    const works = workRequests(10_000);
    const candidates: RoutingCandidate[] = standings.map((s) => ({ agent: s.agent, recent: s.recent, activeSessions: active.get(s.agent.id) ?? 0 }));
    const sample0 = rankAgents(works[0], candidates);
    console.log(
      `work: random role (30% none), 1-3 of ${SKILLS.length} skills, complexity 1-10; e.g. ${JSON.stringify(works[0])}: ` +
        `${sample0.ranked.length} ranked, ${sample0.skipped.length} skipped`,
    );
    console.log('');

    // Warm-up of every path (JIT, connection pool, plan caches).
    for (let i = 0; i < 300; i++) await service.route(works[i]);
    for (let i = 0; i < 20; i++) {
      service['invalidateRoutingSnapshot']();
      await service.route(works[i]);
    }

    // (1) Warm. The decision a session's routing makes: the best agent, explained (pickRanked);
    // a request with no eligible agent ends in NO_ELIGIBLE_AGENT, which is an answer too.
    const decide = (w: WorkRequest) =>
      service.pickRanked(w).catch((err: unknown) => {
        if ((err as { code?: string }).code !== 'NO_ELIGIBLE_AGENT') throw err;
      });
    const r0 = refreshes;
    const refreshed: boolean[] = [];
    const { result: warm, pauses: warmGc } = await withGc(() =>
      timedLoop(works, WARM_MS, Infinity, async (w) => {
        const before = refreshes;
        await decide(w);
        refreshed.push(refreshes !== before);
      }),
    );
    const hits = warm.latencies.filter((_, i) => !refreshed[i]);
    const misses = warm.latencies.filter((_, i) => refreshed[i]);
    console.log(
      line('(1) warm decision: pickRanked()', warm) +
        `\n    ${refreshes - r0} of them refreshed the 1 s snapshot (p50 ${ms(percentile(misses, 50))}); cache hits only: ` +
        `p50 ${ms(percentile(hits, 50))}, p99 ${ms(percentile(hits, 99))}` +
        `\n    ${gcReport(warm, warmGc, GOAL_P99_MS)}`,
    );
    // (1r) The full explained listing (POST /api/v1/agents/route): every agent ranked or skipped, with reasons.
    const listing = await timedLoop(works, Math.round(WARM_MS / 3), Infinity, (w) => service.route(w));
    console.log(line('(1r) warm full listing: route()', listing));

    // (1b) Warm, but with the snapshot cleared INVALIDATIONS_PER_SEC times a second, as each agent
    // write through this process does (recorded runs only mark it stale); nothing is written.
    const dropper = setInterval(() => service['invalidateRoutingSnapshot'](), 1000 / INVALIDATIONS_PER_SEC);
    const writes = await timedLoop(works, WRITES_MS, Infinity, (w) => decide(w));
    clearInterval(dropper);
    console.log(line(`(1b) warm, snapshot cleared ${INVALIDATIONS_PER_SEC}x/s (agent writes)`, writes));

    // (2) Cold: the snapshot dropped before every decision.
    const cold = await timedLoop(works, Infinity, COLD_DECISIONS, async (w) => {
      service['invalidateRoutingSnapshot']();
      await decide(w);
    });
    console.log(line('(2) cold decision (snapshot read every time)', cold));

    // (3) The ranking alone.
    const { result: rank, pauses: rankGc } = await withGc(() =>
      timedLoop(works, RANK_MS, Infinity, (w) => {
        rankAgents(w, candidates);
      }),
    );
    console.log(line('(3) rankAgents() alone, 1,000 candidates', rank) + `\n    ${gcReport(rank, rankGc, 1)}`);

    // Where the time goes: the parts of a decision on their own.
    const load = await timedLoop(works, 2000, Infinity, () => perf.activeSessions());
    const snap = await timedLoop(works, Infinity, 60, () => snapshotRead());
    const [snapSql, snapParams] = ds
      .getRepository('agents')
      .createQueryBuilder('a')
      .leftJoinAndMapOne('a.stats', 'agent_stats', 's', 's.agent_id = a.id')
      .where('a.deleted_at IS NULL')
      .orderBy('a.name', 'ASC')
      .addOrderBy('a.id', 'ASC')
      .getQueryAndParameters();
    const snapRaw = await timedLoop(works, Infinity, 60, () => ds.query(snapSql, snapParams));
    const explain = async (sql: string, params: unknown[] = []) => {
      const plan: Array<{ 'QUERY PLAN': string }> = await ds.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
      const exec = plan.find((p) => p['QUERY PLAN'].startsWith('Execution Time'))?.['QUERY PLAN'] ?? '?';
      return exec.replace('Execution Time: ', '');
    };
    console.log('    parts:');
    console.log(line('      activeSessions() (load, every call)', load, `  [server ${await explain(activeSql)}]`));
    console.log(line('      routingSnapshot() (TypeORM getMany)', snap, `  [server ${await explain(snapSql, snapParams)}]`));
    console.log(line('      the same SQL, raw rows (ds.query)', snapRaw));
    console.log('');

    // Peer: the naive router (window function over agent_runs), and a smarter naive one for reference.
    const windowPeer = naiveRouter(ds, perf, WINDOW_FIGURES_SQL);
    const lateralPeer = naiveRouter(ds, perf, LATERAL_FIGURES_SQL);
    const peerDecisions: RoutingDecision[] = [];
    const peer = await timedLoop(works, Infinity, PEER_DECISIONS, async (w) => {
      peerDecisions.push(await windowPeer(w));
    });
    console.log(line('peer: naive router, window function', peer, `  [server ${await explain(WINDOW_FIGURES_SQL)}]`));
    const lateralDecisions: RoutingDecision[] = [];
    const lateral = await timedLoop(works, Infinity, LATERAL_DECISIONS, async (w) => {
      lateralDecisions.push(await lateralPeer(w));
    });
    console.log(line('ref:  naive router, LATERAL LIMIT 50/agent', lateral, `  [server ${await explain(LATERAL_FIGURES_SQL)}]`));
    // Same data, same ranking: the naive routers must decide exactly as AgentService does.
    const differences: string[] = [];
    for (const [name, decisions] of [['window', peerDecisions], ['LATERAL', lateralDecisions]] as const) {
      for (let i = 0; i < decisions.length; i++) {
        const d = sameDecision(await service.route(works[i]), decisions[i]);
        if (d) differences.push(`${name} #${i}: ${d}`);
      }
    }
    console.log(
      differences.length
        ? `peer check: FAILED, the naive routers decide differently: ${differences.slice(0, 3).join('; ')}`
        : `peer check: all ${peerDecisions.length + lateralDecisions.length} naive decisions = AgentService's (same agents, order and scores)`,
    );

    const rate = (t: Timed) => t.count / t.seconds;
    const p50 = (t: Timed) => percentile(t.latencies, 50);
    console.log('');
    console.log(
      `ours/peer (window function): ${(rate(warm) / rate(peer)).toFixed(0)}x decisions/s warm, ` +
        `${(p50(peer) / p50(cold)).toFixed(0)}x cold (p50 ${ms(p50(cold))} vs ${ms(p50(peer))})`,
    );
    console.log(
      `ours/ref (LATERAL):          ${(rate(warm) / rate(lateral)).toFixed(0)}x decisions/s warm, ` +
        `${(p50(lateral) / p50(cold)).toFixed(1)}x cold (p50 ${ms(p50(cold))} vs ${ms(p50(lateral))})`,
    );
    const p99 = percentile(warm.latencies, 99);
    const met = p99 < GOAL_P99_MS;
    console.log(
      `${met ? 'GOAL MET' : 'GOAL MISSED'}: warm routing decision p99 ${ms(p99)} ${met ? '<' : '>='} ${GOAL_P99_MS} ms ` +
        `with ${AGENTS} agents and ${TOTAL_RUNS.toLocaleString('en')} stored runs (cold p99 ${ms(percentile(cold.latencies, 99))})`,
    );
    console.log(`total time ${sec(performance.now() - started)}; load average now ${loadAverage()} (other processes share the CPUs: the tails move with it)`);
  } finally {
    await app.close();
  }
}

/** The repository's load query (for EXPLAIN). */
const activeSql = `SELECT agent_id, count(*)::int AS active FROM sessions
  WHERE agent_id IS NOT NULL AND status IN ('QUEUED','RUNNING') AND deleted_at IS NULL GROUP BY agent_id`;

const loadAverage = () => loadavg().map((x) => x.toFixed(2)).join(' ');

function pgOf(config: AppConfig) {
  const { host, port, user, password } = config.database;
  return { host, port, username: user, password };
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC } from './metric-names';

/** Run and wait durations: seconds up to 4 h (a session may run for hours). */
const LONG_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
/** HTTP and OpenCode request latencies: 5 ms to 30 s. */
const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Lock waits: 1 ms to 60 s (a session lock waits up to 30 s). */
const LOCK_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type TokenKind = 'input' | 'output' | 'reasoning' | 'cache_read' | 'cache_write';

/**
 * Gauges of the whole deployment, read from PostgreSQL or Redis in the background (see
 * refreshAggregates and MetricsRefresher), never at scrape time: a scrape costs no query.
 */
export type AggregateGauge = 'sessions' | 'queueJobs' | 'plans' | 'planTasks';

/** Each aggregate's metric and its one label. */
const AGGREGATES: Readonly<Record<AggregateGauge, { metric: string; label: string }>> = {
  sessions: { metric: METRIC.sessions, label: 'status' },
  queueJobs: { metric: METRIC.queueJobs, label: 'state' },
  plans: { metric: METRIC.plans, label: 'status' },
  planTasks: { metric: METRIC.planTasks, label: 'status' },
};

/** Label value → value, as an aggregate's source answers it. */
export type GaugeCounts = Readonly<Record<string, number>>;

export interface AggregateSource {
  read(): Promise<GaugeCounts>;
  /** Label values shown as 0 when the source does not name them. */
  known?: readonly string[];
}

/** What one refresh did, by metric name: the gauges read and set, and those that kept their last values, with why. */
export interface AggregateRefresh {
  refreshed: string[];
  failed: Array<{ metric: string; reason: string }>;
}

interface MetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, event loop lag...). Default true. */
  defaultMetrics?: boolean;
  /** How long an aggregate's source may take before that refresh gives up on it (its gauge keeps its last values). Default 10000. */
  aggregateTimeoutMs?: number;
  /** The clock of the aggregates' ages (tests). Default Date.now. */
  now?: () => number;
}

interface RegisteredAggregate {
  source: AggregateSource;
  /** When the gauge was last set from its source (epoch ms). */
  refreshedAt?: number;
  /** A read that has not answered yet: the next refresh does not start another one beside it. */
  reading?: Promise<unknown>;
}

/**
 * Every metric of metric-names.ts, in one prom-client Registry per process (the API with
 * --with-worker serves the worker's metrics too). It knows no bounded context: each context
 * records into the instruments from an adapter of its own (label rules included), and hands
 * the deployment-wide gauges a source through refreshInBackground. A scrape only serialises
 * what is in memory: it never waits for PostgreSQL or Redis.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly sessionTransitions = new Counter({
    name: METRIC.sessionTransitions,
    help: 'Session status changes committed by this process (from NONE: created).',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  readonly sessionDuration = new Histogram({
    name: METRIC.sessionDuration,
    help: 'Time from RUNNING to a final status (startedAt to finishedAt), seconds.',
    labelNames: ['status'] as const,
    buckets: LONG_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly sessionQueueWait = new Histogram({
    name: METRIC.sessionQueueWait,
    help: 'Time from QUEUED to RUNNING (queuedAt to startedAt), seconds.',
    buckets: LONG_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly sessions = this.aggregateGauge(METRIC.sessions, 'Sessions by status (deleted ones excluded), refreshed in the background.', 'status');
  readonly queueJobs = this.aggregateGauge(METRIC.queueJobs, 'Run jobs of the session-runs queue by state, refreshed in the background.', 'state');

  readonly opencodeRequestDuration = new Histogram({
    name: METRIC.opencodeRequestDuration,
    help: 'OpenCode HTTP requests by route template, seconds (the event stream: until its headers).',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly opencodeRequestErrors = new Counter({
    name: METRIC.opencodeRequestErrors,
    help: 'OpenCode requests that failed, by route template and kind (http, network, timeout).',
    labelNames: ['route', 'kind'] as const,
    registers: [this.registry],
  });
  readonly opencodeServerRestarts = new Counter({
    name: METRIC.opencodeServerRestarts,
    help: 'Managed OpenCode servers of this process whose process died and that were replaced by the next generation of their slot.',
    registers: [this.registry],
  });
  readonly opencodeServerState = new Gauge({
    name: METRIC.opencodeServerState,
    help: "1 for the state each OpenCode server of this worker is in (STARTING, READY, DRAINING, UNHEALTHY, STOPPED), 0 for the others.",
    labelNames: ['server', 'state'] as const,
    registers: [this.registry],
  });
  readonly opencodeServerRss = new Gauge({
    name: METRIC.opencodeServerRss,
    help: "Resident memory of each managed OpenCode server's process tree, bytes.",
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly opencodeServerLatency = new Gauge({
    name: METRIC.opencodeServerLatency,
    help: 'Health probe latency of each OpenCode server over its last 60 probes, by quantile (0.5, 0.95), seconds.',
    labelNames: ['server', 'quantile'] as const,
    registers: [this.registry],
  });
  readonly opencodeServerSessionsRunning = new Gauge({
    name: METRIC.opencodeServerSessionsRunning,
    help: 'Runs (turns) on each OpenCode server now.',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly opencodeServerSessionsServed = new Counter({
    name: METRIC.opencodeServerSessionsServed,
    help: 'Runs that ended on each OpenCode server since it started.',
    labelNames: ['server'] as const,
    registers: [this.registry],
  });
  readonly opencodeServerRecycles = new Counter({
    name: METRIC.opencodeServerRecycles,
    help: 'Managed OpenCode servers drained and replaced, by reason (sessions, rss, age: a recycle limit; drain: asked for; unhealthy: stopped answering).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly opencodeUp = new Gauge({
    name: METRIC.opencodeUp,
    help: '1 when the OpenCode server of this process answers its health check, else 0 (absent: this process does not use OpenCode).',
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: METRIC.tokens,
    help: 'Tokens of finished runs by agent, role, model and kind.',
    labelNames: ['agent', 'role', 'model', 'kind'] as const,
    registers: [this.registry],
  });
  readonly cost = new Counter({
    name: METRIC.cost,
    help: 'Cost of finished runs by agent, role and model, USD.',
    labelNames: ['agent', 'role', 'model'] as const,
    registers: [this.registry],
  });
  readonly agentRuns = new Counter({
    name: METRIC.agentRuns,
    help: 'Finished runs (RUNNING to a final status) by agent, role and outcome (the final status).',
    labelNames: ['agent', 'role', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly lockWait = new Histogram({
    name: METRIC.lockWait,
    help: 'Time from asking for a lock to the answer, by kind and outcome, seconds.',
    labelNames: ['kind', 'outcome'] as const,
    buckets: LOCK_WAIT_BUCKETS,
    registers: [this.registry],
  });
  readonly lockContention = new Counter({
    name: METRIC.lockContention,
    help: 'Acquires that found the lock held (queued behind the holder, or refused at once).',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly lockDeadlocks = new Counter({
    name: METRIC.lockDeadlocks,
    help: 'Waiters of this process chosen as deadlock victims.',
    registers: [this.registry],
  });
  readonly lockLost = new Counter({
    name: METRIC.lockLost,
    help: 'Held leases lost before release, by kind.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly plans = this.aggregateGauge(METRIC.plans, 'Plans by status, refreshed in the background.', 'status');
  readonly planTasks = this.aggregateGauge(METRIC.planTasks, 'Tasks of unfinished plans by status, refreshed in the background.', 'status');

  readonly approvals = new Counter({
    name: METRIC.approvals,
    help: 'Approvals (OpenCode permission requests waiting for a person) decided by this process, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly worktreesDisk = new Gauge({
    name: METRIC.worktreesDisk,
    help: 'Bytes used by session worktrees under WORKTREES_DIR, as last measured by the worker janitor.',
    registers: [this.registry],
  });
  readonly worktreeMerges = new Counter({
    name: METRIC.worktreeMerges,
    help: 'Merges of session branches into a branch of their repository, by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly retentionPruned = new Counter({
    name: METRIC.retentionPruned,
    help: "Rows pruned by the retention job, by kind (a finished session's output text, a finished plan, a plan's task).",
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly spendUsd = new Counter({
    name: METRIC.spendUsd,
    help: 'Cost of model steps as they finish (streamed from OpenCode), USD, by agent, role, model, API key and plan.',
    labelNames: ['agent', 'role', 'model', 'key', 'plan'] as const,
    registers: [this.registry],
  });
  readonly spendTokens = new Counter({
    name: METRIC.spendTokens,
    help: 'Tokens of model steps as they finish (every kind), by agent, role, model, API key and plan.',
    labelNames: ['agent', 'role', 'model', 'key', 'plan'] as const,
    registers: [this.registry],
  });
  readonly budgetRemaining = new Gauge({
    name: METRIC.budgetRemaining,
    help: 'Share of a budget left (0-1) as last seen by a run, by scope (plan, agent, key), id and limit.',
    labelNames: ['scope', 'id', 'limit'] as const,
    registers: [this.registry],
  });
  readonly budgetEvents = new Counter({
    name: METRIC.budgetEvents,
    help: 'Budgets passing 80% (warning) or reached (exceeded), by scope (session, plan, agent, key).',
    labelNames: ['scope', 'event'] as const,
    registers: [this.registry],
  });
  readonly sessionsThrottled = new Counter({
    name: METRIC.sessionsThrottled,
    help: 'Runs put back in the queue to wait for provider capacity, by model and reason.',
    labelNames: ['model', 'reason'] as const,
    registers: [this.registry],
  });
  readonly providerRateLimits = new Counter({
    name: METRIC.providerRateLimits,
    help: 'Rate-limit or overloaded answers of a model provider seen in turns, by model.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly providerQuotaExhausted = new Counter({
    name: METRIC.providerQuotaExhausted,
    help: 'Models found with their quota exhausted and marked unavailable, by model.',
    labelNames: ['model'] as const,
    registers: [this.registry],
  });
  readonly modelFallbacks = new Counter({
    name: METRIC.modelFallbacks,
    help: 'Runs sent to a fallback model instead of their primary one, by primary (from) and fallback (to).',
    labelNames: ['from', 'to'] as const,
    registers: [this.registry],
  });
  readonly runawayStops = new Counter({
    name: METRIC.runawayStops,
    help: 'Turns stopped by a runaway guard, by reason (STEP_LIMIT, DOOM_LOOP, NO_PROGRESS).',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly httpRequestDuration = new Histogram({
    name: METRIC.httpRequestDuration,
    help: 'HTTP requests served by the API by method, route pattern and status code, seconds.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: REQUEST_DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly metricsAggregatesAge = new Gauge({
    name: METRIC.metricsAggregatesAge,
    help: 'Seconds since each background-refreshed gauge (label metric) was last read from its source; absent until its first refresh.',
    labelNames: ['metric'] as const,
    registers: [this.registry],
    collect: () => this.exportAges(),
  });

  readonly eventStreams = new Gauge({
    name: METRIC.eventStreams,
    help: 'Server-sent event streams open on this process now.',
    registers: [this.registry],
  });
  readonly eventStreamsRefused = new Counter({
    name: METRIC.eventStreamsRefused,
    help: 'Event streams refused with 503 TOO_MANY_STREAMS, by the limit reached (process: MAX_EVENT_STREAMS, key: MAX_EVENT_STREAMS_PER_KEY).',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });

  readonly databaseWaits = new Counter({
    name: METRIC.databaseWaits,
    help: 'Waits of runs for an unreachable PostgreSQL before writing what must not be lost, by how they ended (recovered: written; gave_up: the session timeout passed or the process stopped).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly runsWaitingForDatabase = new Gauge({
    name: METRIC.runsWaitingForDatabase,
    help: 'Runs of this process waiting for PostgreSQL now.',
    registers: [this.registry],
  });

  private readonly aggregates = new Map<AggregateGauge, RegisteredAggregate>();
  private readonly aggregateTimeoutMs: number;
  private readonly now: () => number;
  private refreshing?: Promise<AggregateRefresh>;

  constructor(options: MetricsOptions = {}) {
    this.aggregateTimeoutMs = options.aggregateTimeoutMs ?? 10_000;
    this.now = options.now ?? Date.now;
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    // Absent until a health check says otherwise: a process that never talks to OpenCode
    // must not report it down.
    this.opencodeUp.remove();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric of this process. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Makes `source` the source of a deployment-wide gauge, read by refreshAggregates (in the
   * processes that run a MetricsRefresher), never at scrape time. Returns the undo, which also
   * removes the gauge's values and age.
   */
  refreshInBackground(aggregate: AggregateGauge, source: AggregateSource): () => void {
    const entry: RegisteredAggregate = { source };
    this.aggregates.set(aggregate, entry);
    return () => {
      if (this.aggregates.get(aggregate) !== entry) return;
      this.aggregates.delete(aggregate);
      this.gaugeOf(aggregate).reset();
    };
  }

  /**
   * Reads every registered aggregate once and sets its gauge. One refresh at a time: a call while
   * one runs gets that one. A source that fails or takes longer than aggregateTimeoutMs keeps its
   * gauge's last values (its age grows), and is not read again until its late read has answered.
   */
  refreshAggregates(): Promise<AggregateRefresh> {
    this.refreshing ??= this.refreshAll().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Seconds since `aggregate` was last set from its source; undefined before its first refresh. */
  aggregateAgeSeconds(aggregate: AggregateGauge): number | undefined {
    const refreshedAt = this.aggregates.get(aggregate)?.refreshedAt;
    return refreshedAt === undefined ? undefined : Math.max(0, this.now() - refreshedAt) / 1000;
  }

  private async refreshAll(): Promise<AggregateRefresh> {
    const result: AggregateRefresh = { refreshed: [], failed: [] };
    await Promise.all(
      [...this.aggregates].map(async ([aggregate, entry]) => {
        const { metric, label } = AGGREGATES[aggregate];
        const fail = (reason: string) => result.failed.push({ metric, reason });
        if (entry.reading) return fail('its previous read has not answered yet');
        const reading = Promise.resolve().then(() => entry.source.read());
        entry.reading = reading;
        reading.then(
          () => (entry.reading = undefined),
          () => (entry.reading = undefined),
        );
        try {
          const counts = await withTimeout(reading, this.aggregateTimeoutMs);
          if (this.aggregates.get(aggregate) !== entry) return; // undone meanwhile
          setAll(this.gaugeOf(aggregate), label, counts, entry.source.known);
          entry.refreshedAt = this.now();
          result.refreshed.push(metric);
        } catch (err) {
          fail(err instanceof Error ? err.message : String(err));
        }
      }),
    );
    return result;
  }

  private exportAges(): void {
    this.metricsAggregatesAge.reset();
    for (const aggregate of this.aggregates.keys()) {
      const age = this.aggregateAgeSeconds(aggregate);
      if (age !== undefined) this.metricsAggregatesAge.set({ metric: AGGREGATES[aggregate].metric }, age);
    }
  }

  private gaugeOf(aggregate: AggregateGauge): Gauge<string> {
    return this[aggregate] as Gauge<string>;
  }

  private aggregateGauge<L extends string>(name: string, help: string, label: L): Gauge<L> {
    return new Gauge<L>({ name, help, labelNames: [label], registers: [this.registry] });
  }
}

/** The gauge's one label set to each value of `counts`, `known` values it does not name at 0, nothing else. */
function setAll(gauge: Gauge<string>, label: string, counts: GaugeCounts, known: readonly string[] = []): void {
  gauge.reset();
  for (const value of known) gauge.set({ [label]: value }, 0);
  for (const [value, count] of Object.entries(counts)) gauge.set({ [label]: value }, count);
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

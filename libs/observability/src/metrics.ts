import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC } from './metric-names';

/** Run and wait durations: seconds up to 4 h (a session may run for hours). */
const LONG_DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400];
/** HTTP and OpenCode request latencies: 5 ms to 30 s. */
const REQUEST_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Lock waits: 1 ms to 60 s (a session lock waits up to 30 s). */
const LOCK_WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export type TokenKind = 'input' | 'output' | 'reasoning' | 'cache_read' | 'cache_write';

/** Gauges whose values are read from their source at scrape time. */
type ScrapedGauge = 'sessions' | 'queueJobs' | 'plans' | 'planTasks';

/** Label value → value, as a scrape-time source answers it. */
export type GaugeCounts = Readonly<Record<string, number>>;

interface ScrapeSource {
  read(): Promise<GaugeCounts>;
  /** Label values shown as 0 when the source does not name them. */
  known?: readonly string[];
}

interface MetricsOptions {
  /** prom-client's process and Node.js metrics (CPU, memory, event loop lag...). Default true. */
  defaultMetrics?: boolean;
  /** How long a scrape-time source may take before its gauge is left empty for that scrape. Default 2000. */
  sourceTimeoutMs?: number;
}

/**
 * Every metric of metric-names.ts, in one prom-client Registry per process (the API with
 * --with-worker serves the worker's metrics too). It knows no bounded context: each context
 * records into the instruments from an adapter of its own (label rules included), and hands
 * scrape-time gauges a source through collectAtScrape.
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
  readonly sessions = this.scrapedGauge('sessions', METRIC.sessions, 'Sessions by status (deleted ones excluded), read at scrape time.', 'status');
  readonly queueJobs = this.scrapedGauge('queueJobs', METRIC.queueJobs, 'Run jobs of the session-runs queue by state, read at scrape time.', 'state');

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

  readonly plans = this.scrapedGauge('plans', METRIC.plans, 'Plans by status.', 'status');
  readonly planTasks = this.scrapedGauge('planTasks', METRIC.planTasks, 'Tasks of unfinished plans by status.', 'status');

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

  private readonly sources = new Map<ScrapedGauge, ScrapeSource>();
  private readonly sourceTimeoutMs: number;

  constructor(options: MetricsOptions = {}) {
    this.sourceTimeoutMs = options.sourceTimeoutMs ?? 2000;
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
   * Reads a gauge from `source` at each scrape (sessions, queue jobs, plans). Returns the undo.
   * A source that fails or answers too late leaves its gauge empty for that scrape, rather
   * than stale or failing the whole scrape.
   */
  collectAtScrape(gauge: ScrapedGauge, source: ScrapeSource): () => void {
    this.sources.set(gauge, source);
    return () => {
      if (this.sources.get(gauge) === source) this.sources.delete(gauge);
    };
  }

  private scrapedGauge<L extends string>(gauge: ScrapedGauge, name: string, help: string, label: L) {
    const metrics = this;
    return new Gauge<L>({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      async collect() {
        const source = metrics.sources.get(gauge);
        if (!source) return;
        this.reset();
        const counts = await withTimeout(source.read(), metrics.sourceTimeoutMs).catch(() => null);
        if (!counts) return;
        setAll(this, label, counts, source.known);
      },
    });
  }
}

function setAll<L extends string>(gauge: Gauge<L>, label: L, counts: GaugeCounts, known: readonly string[] = []): void {
  gauge.reset();
  const labels = (value: string) => ({ [label]: value }) as Record<L, string>;
  for (const value of known) gauge.set(labels(value), 0);
  for (const [value, count] of Object.entries(counts)) gauge.set(labels(value), count);
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

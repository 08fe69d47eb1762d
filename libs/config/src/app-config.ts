import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { EnvironmentSchema, validateEnvironment } from './env.schema';
import { parseProviderLimits, ProviderLimitRule } from './provider-limits';

export interface OpencodeConfig {
  /** Undefined: this process starts and supervises its own local `opencode serve`. */
  host?: string;
  port: number;
  password?: string;
  /** "provider/model"; undefined with a managed server means the offline rehearsal provider. */
  model?: string;
}

/** An OpenCode server someone else runs (OPENCODE_HOST, OPENCODE_HOSTS). */
export interface ExternalOpencodeServer {
  /** Without credentials or a trailing slash, e.g. http://10.0.0.5:4096. */
  url: string;
  password?: string;
}

/** The OpenCode servers a worker uses: its own managed ones and external ones, and their limits. */
export interface OpencodeFleetConfig {
  managedServers: number;
  externalServers: readonly ExternalOpencodeServer[];
  maxSessionsPerServer: number;
  /** 0: no such limit. */
  recycleAfterSessions: number;
  maxRssMb: number;
  maxAgeMinutes: number;
}

/** Typed, grouped configuration, built once from a validated environment. */
export class AppConfig {
  readonly port: number;
  /** Interface the API listens on (HOST). */
  readonly host: string;
  readonly database: {
    host: string;
    port: number;
    user: string;
    password: string;
    name: string;
    /** 0: no limit. */
    statementTimeoutMs: number;
    connectTimeoutMs: number;
    /** 0: keepalive off. */
    keepAliveSeconds: number;
  };
  readonly redis: { host: string; port: number; password?: string };
  readonly queuePrefix: string;
  readonly opencode: OpencodeConfig;
  readonly opencodeFleet: OpencodeFleetConfig;
  /**
   * MAX_CONCURRENT_SESSIONS: sessions RUNNING at once across all workers (the session-run queue's
   * global concurrency), and the most tasks a plan runs at once. Not an agent's own capacity.
   */
  readonly maxConcurrentSessions: number;
  readonly sessionTimeoutSeconds: number;
  readonly apiKey?: string;
  readonly workerLeaseSeconds: number;
  /** SHUTDOWN_GRACE_SECONDS: on SIGTERM, how long running turns and requests may take to finish before the rest is handed over. */
  readonly shutdownGraceSeconds: number;
  readonly dataDir: string;
  readonly logLevel: EnvironmentSchema['LOG_LEVEL'];
  /** LOG_FORMAT; undefined: pretty when stdout is a terminal, JSON otherwise. */
  readonly logFormat?: 'pretty' | 'json';
  /** Port of a worker process's /metrics and /health server; 0: none. */
  readonly workerMetricsPort: number;
  /** METRICS_REFRESH_SECONDS: how often the API refreshes the deployment-wide gauges in the background. */
  readonly metricsRefreshSeconds: number;
  /** Server-sent event streams one API process holds open: in all, and per API key. */
  readonly eventStreams: { readonly max: number; readonly maxPerKey: number };
  /** Absolute directories every workspace must resolve into (not yet realpath'd: WorkspacePort does that). */
  readonly workspaceRoots: readonly string[];
  /** The orchestrator's own installation (the directory of its package.json): never a workspace. */
  readonly orchestratorHome: string;
  /** OS sandbox of a managed OpenCode server. */
  readonly opencodeSandbox: 'auto' | 'bwrap' | 'none';
  /** OPENCODE_SNAPSHOTS: a managed OpenCode server takes its per-step filesystem snapshots. */
  readonly opencodeSnapshots: boolean;
  /** Variable names passed to a managed OpenCode server besides the built-in allow-list. */
  readonly opencodePassEnv: readonly string[];
  readonly approvalTimeoutSeconds: number;
  /** Session worktrees: where their slots live, how many per repository, how long unused work is kept, who commits. */
  readonly worktrees: {
    readonly directory: string;
    readonly slotsPerRepository: number;
    readonly retentionHours: number;
    readonly author: { readonly name: string; readonly email: string };
    readonly resolverTries: number;
  };
  /** Retention of finished work (README, Retention): days after which it is pruned (0: never), rows per statement. */
  readonly retention: { readonly days: number; readonly batchSize: number };
  /** Cost and capacity control: provider limits, quota hold, runaway guards, the plan forecast's prior. */
  readonly capacity: {
    readonly providerLimits: readonly ProviderLimitRule[];
    readonly quotaHoldMinutes: number;
    readonly turnMaxSteps: number;
    readonly doomLoopRepeats: number;
    readonly noProgressSeconds: number;
    readonly taskCostPriorUsd: number;
  };
  /**
   * The whole environment the process was started with, for the child processes it starts (a
   * managed OpenCode server reads provider credentials such as ANTHROPIC_API_KEY from it).
   */
  readonly processEnvironment: Readonly<Record<string, string | undefined>>;

  constructor(env: EnvironmentSchema, processEnvironment: Record<string, string | undefined> = {}) {
    this.port = env.PORT;
    this.host = env.HOST;
    this.database = {
      host: env.DB_HOST,
      port: env.DB_PORT,
      user: env.DB_USER,
      password: env.DB_PASSWORD,
      name: env.DB_NAME,
      statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS,
      connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS,
      keepAliveSeconds: env.DB_KEEPALIVE_SECONDS,
    };
    this.redis = { host: env.REDIS_HOST, port: env.REDIS_PORT, password: env.REDIS_PASSWORD };
    this.queuePrefix = env.QUEUE_PREFIX;
    this.opencode = {
      host: env.OPENCODE_HOST,
      port: env.OPENCODE_PORT,
      password: env.OPENCODE_PASSWORD,
      model: env.OPENCODE_MODEL,
    };
    const externalServers = [
      ...(env.OPENCODE_HOST ? [{ url: hostUrl(env.OPENCODE_HOST, env.OPENCODE_PORT), password: env.OPENCODE_PASSWORD }] : []),
      ...(env.OPENCODE_HOSTS ? env.OPENCODE_HOSTS.split(',').map((entry) => externalServer(entry.trim())) : []),
    ];
    this.opencodeFleet = {
      managedServers: env.OPENCODE_SERVERS ?? (externalServers.length > 0 ? 0 : 1),
      externalServers,
      maxSessionsPerServer: env.OPENCODE_SERVER_MAX_SESSIONS,
      recycleAfterSessions: env.OPENCODE_RECYCLE_AFTER_SESSIONS,
      maxRssMb: env.OPENCODE_MAX_RSS_MB,
      maxAgeMinutes: env.OPENCODE_MAX_AGE_MINUTES,
    };
    this.maxConcurrentSessions = env.MAX_CONCURRENT_SESSIONS;
    this.sessionTimeoutSeconds = env.SESSION_TIMEOUT_SECONDS;
    this.apiKey = env.API_KEY;
    this.workerLeaseSeconds = env.WORKER_LEASE_SECONDS;
    this.shutdownGraceSeconds = env.SHUTDOWN_GRACE_SECONDS;
    this.dataDir = isAbsolute(env.DATA_DIR) ? env.DATA_DIR : resolve(env.DATA_DIR);
    this.logLevel = env.LOG_LEVEL;
    this.logFormat = env.LOG_FORMAT;
    this.workerMetricsPort = env.WORKER_METRICS_PORT;
    this.metricsRefreshSeconds = env.METRICS_REFRESH_SECONDS;
    this.eventStreams = { max: env.MAX_EVENT_STREAMS, maxPerKey: env.MAX_EVENT_STREAMS_PER_KEY };
    this.workspaceRoots = env.WORKSPACE_ROOTS
      ? [...new Set(env.WORKSPACE_ROOTS.split(',').map((root) => resolve(root.trim())))]
      : [tmpdir()];
    this.orchestratorHome = findPackageRoot(__dirname);
    this.opencodeSandbox = env.OPENCODE_SANDBOX as AppConfig['opencodeSandbox'];
    this.opencodeSnapshots = env.OPENCODE_SNAPSHOTS === 'true';
    this.opencodePassEnv = env.OPENCODE_PASS_ENV ? env.OPENCODE_PASS_ENV.split(',').map((name) => name.trim()) : [];
    this.approvalTimeoutSeconds = env.APPROVAL_TIMEOUT_SECONDS;
    this.worktrees = {
      directory: env.WORKTREES_DIR ? resolve(env.WORKTREES_DIR) : join(this.workspaceRoots[0], '.orchestrator-worktrees'),
      slotsPerRepository: env.WORKTREE_SLOTS_PER_REPOSITORY,
      retentionHours: env.WORKTREE_RETENTION_HOURS,
      author: { name: env.WORKTREE_AUTHOR_NAME.trim(), email: env.WORKTREE_AUTHOR_EMAIL },
      resolverTries: env.MERGE_RESOLVER_TRIES,
    };
    this.capacity = {
      providerLimits: parseProviderLimits(env.PROVIDER_LIMITS),
      quotaHoldMinutes: env.PROVIDER_QUOTA_HOLD_MINUTES,
      turnMaxSteps: env.TURN_MAX_STEPS,
      doomLoopRepeats: env.DOOM_LOOP_REPEATS,
      noProgressSeconds: env.NO_PROGRESS_SECONDS,
      taskCostPriorUsd: env.PLAN_TASK_COST_PRIOR_USD,
    };
    this.retention = { days: env.RETENTION_DAYS, batchSize: env.RETENTION_BATCH_SIZE };
    this.processEnvironment = Object.freeze({ ...processEnvironment });
  }

  /** Reads and validates an environment (process.env by default). */
  static fromEnvironment(env: Record<string, string | undefined> = process.env): AppConfig {
    return new AppConfig(validateEnvironment(env), env);
  }

  /**
   * The same configuration for a process without the session worker (the API alone): it runs no
   * OpenCode server of its own, whatever OPENCODE_SERVERS says (its health check asks the external ones).
   */
  withoutManagedServers(): AppConfig {
    return Object.assign(Object.create(AppConfig.prototype) as AppConfig, this, { opencodeFleet: { ...this.opencodeFleet, managedServers: 0 } });
  }

  /** A copy with some raw variables changed; used by tests and tools. */
  static with(overrides: Record<string, string | undefined>): AppConfig {
    return AppConfig.fromEnvironment({ ...process.env, ...overrides });
  }
}

/** OPENCODE_HOST (a host name or URL, with or without a port) as a URL with the port. */
function hostUrl(host: string, port: number): string {
  const base = /^https?:\/\//.test(host) ? host : `http://${host}`;
  const withPort = /:\d+\/?$/.test(base.replace(/^https?:\/\//, '')) ? base : `${base.replace(/\/+$/, '')}:${port}`;
  return withPort.replace(/\/+$/, '');
}

/** One OPENCODE_HOSTS entry: the URL without its userinfo, whose password (if any) authenticates. */
function externalServer(entry: string): ExternalOpencodeServer {
  const url = new URL(entry);
  const password = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  return { url: url.toString().replace(/\/+$/, ''), password };
}

/** The nearest directory above `from` with a package.json (the repository, whether run from src or dist). */
function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

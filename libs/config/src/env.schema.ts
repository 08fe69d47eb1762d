import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
} from 'class-validator';
import { parseProviderLimits } from './provider-limits';

const toInt = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^-?\d+$/.test(String(value)) ? Number(value) : value;
const toNumber = ({ value }: { value: unknown }) =>
  value === undefined || value === '' ? undefined : /^\d+(\.\d+)?$/.test(String(value)) ? Number(value) : value;
const emptyToUndefined = ({ value }: { value: unknown }) => (value === '' ? undefined : value);

/**
 * The environment the process accepts, with defaults. Validated once at start;
 * nothing else in the code base reads process.env.
 */
export class EnvironmentSchema {
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) PORT = 3000;
  /** Interface the API listens on. Not loopback without API_KEY: the process refuses to start. */
  @IsString() @MinLength(1) HOST = '127.0.0.1';

  @IsString() @MinLength(1) DB_HOST = '127.0.0.1';
  @Transform(toInt) @IsInt() @Min(1) @Max(65535) DB_PORT = 5432;
  /** A statement running longer is cancelled by PostgreSQL (statement_timeout), and a query without an answer this long plus 5 s fails in the client (a dead connection); 0: no limit. */
  @Transform(toInt) @IsInt() @Min(0) @Max(3_600_000) DB_STATEMENT_TIMEOUT_MS = 30_000;
  /** Opening a connection fails after this long. */
  @Transform(toInt) @IsInt() @Min(100) @Max(600_000) DB_CONNECT_TIMEOUT_MS = 5_000;
  /** TCP keepalive on the connections, first probe after this many seconds idle (a peer gone without a word is noticed); 0: off. */
  @Transform(toInt) @IsInt() @Min(0) @Max(7200) DB_KEEPALIVE_SECONDS = 30;
  @IsString() @MinLength(1) DB_USER = 'postgres';
  @IsString() DB_PASSWORD = '';
  @Matches(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, { message: 'DB_NAME must be a plain PostgreSQL identifier' })
  DB_NAME = 'orchestrator';

  @IsString() @MinLength(1) REDIS_HOST = '127.0.0.1';
  @Transform(toInt) @IsInt() @Min(1) @Max(65535) REDIS_PORT = 6379;
  @Transform(emptyToUndefined) @IsOptional() @IsString() REDIS_PASSWORD?: string;
  @Matches(/^[A-Za-z0-9_-]{1,40}$/, { message: 'QUEUE_PREFIX must be 1-40 letters, digits, _ or -' })
  QUEUE_PREFIX = 'orchestrator';

  /** Unset: the process manages its own local `opencode serve`. */
  @Transform(emptyToUndefined) @IsOptional() @IsString() OPENCODE_HOST?: string;
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) OPENCODE_PORT = 4096;
  @Transform(emptyToUndefined) @IsOptional() @IsString() OPENCODE_PASSWORD?: string;
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^[^/\s]+\/\S+$/, { message: 'OPENCODE_MODEL must look like provider/model' })
  OPENCODE_MODEL?: string;

  /**
   * Managed `opencode serve` processes a worker runs. Unset: 1 when neither OPENCODE_HOST nor
   * OPENCODE_HOSTS is set, else 0 (only the servers you run).
   */
  @Transform(toInt) @IsOptional() @IsInt() @Min(0) @Max(16) OPENCODE_SERVERS?: number;
  /** Servers you run yourself: comma-separated URLs, a password as the URL's userinfo (`http://:secret@host:4096`). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^https?:\/\/[^,\s]+(,\s*https?:\/\/[^,\s]+)*$/, { message: 'OPENCODE_HOSTS must be comma-separated http(s) URLs' })
  OPENCODE_HOSTS?: string;
  /** Turns one OpenCode server runs at once; MAX_CONCURRENT_SESSIONS still caps the fleet. */
  @Transform(toInt) @IsInt() @Min(1) @Max(1000) OPENCODE_SERVER_MAX_SESSIONS = 25;
  /** A managed server is drained and replaced after serving this many sessions (0: never). */
  @Transform(toInt) @IsInt() @Min(0) @Max(10_000_000) OPENCODE_RECYCLE_AFTER_SESSIONS = 1000;
  /** ... or once its process tree's resident memory passes this many MB (0: never). */
  @Transform(toInt) @IsInt() @Min(0) @Max(1_000_000) OPENCODE_MAX_RSS_MB = 3072;
  /** ... or once it has run this many minutes (0: never). */
  @Transform(toInt) @IsInt() @Min(0) @Max(525_600) OPENCODE_MAX_AGE_MINUTES = 720;

  @Transform(toInt) @IsInt() @Min(1) @Max(10000) MAX_CONCURRENT_SESSIONS = 25;
  @Transform(toInt) @IsInt() @Min(1) @Max(86400) SESSION_TIMEOUT_SECONDS = 3600;
  @Transform(emptyToUndefined) @IsOptional() @IsString() @MinLength(8) API_KEY?: string;

  /** How long a worker may stay silent before its job counts as stalled (worker lost). */
  @Transform(toInt) @IsInt() @Min(1) @Max(3600) WORKER_LEASE_SECONDS = 30;
  /** On SIGTERM, how long running turns and HTTP requests may take to finish before what is left is handed over (0: at once). */
  @Transform(toInt) @IsInt() @Min(0) @Max(3600) SHUTDOWN_GRACE_SECONDS = 60;
  /** Where the managed OpenCode server keeps its isolated home, config and data. */
  @IsString() @MinLength(1) DATA_DIR = '.orchestrator';
  @IsIn(['fatal', 'error', 'warn', 'log', 'debug', 'verbose']) LOG_LEVEL = 'log';
  /** pretty: readable coloured lines; json: one JSON object per line. Unset: pretty on a terminal, json otherwise. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsIn(['pretty', 'json'], { message: 'LOG_FORMAT must be pretty or json (unset: pretty when stdout is a terminal, json otherwise)' })
  LOG_FORMAT?: 'pretty' | 'json';

  /**
   * Comma-separated absolute directories every workspace must resolve into. Unset: the system's
   * temporary directory (os.tmpdir()), which keeps the README's first-session demo working.
   */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\/[^,]*(,\s*\/[^,]*)*$/, { message: 'WORKSPACE_ROOTS must be a comma-separated list of absolute paths' })
  WORKSPACE_ROOTS?: string;
  /** OS sandbox of a managed OpenCode server: auto (bubblewrap when `bwrap` is installed), bwrap, none. */
  @IsIn(['auto', 'bwrap', 'none']) OPENCODE_SANDBOX = 'auto';
  /**
   * OpenCode's per-step filesystem snapshots (its own undo) on a managed server. Off by default:
   * the orchestrator keeps a worktree session's work as commits, and snapshots cost OpenCode about
   * three times the CPU per session in a git repository (measured by bench:parallel).
   */
  @IsIn(['true', 'false'], { message: 'OPENCODE_SNAPSHOTS must be true or false' }) OPENCODE_SNAPSHOTS = 'false';
  /** Extra variable names (comma-separated) passed to a managed OpenCode server besides the allow-list. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^[A-Za-z_][A-Za-z0-9_]*(,\s*[A-Za-z_][A-Za-z0-9_]*)*$/, { message: 'OPENCODE_PASS_ENV must be comma-separated variable names' })
  OPENCODE_PASS_ENV?: string;
  /**
   * Where session worktrees (slots) live: an absolute directory inside WORKSPACE_ROOTS (the agent
   * works there). Unset: `.orchestrator-worktrees` in the first workspace root.
   */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Matches(/^\//, { message: 'WORKTREES_DIR must be an absolute path' })
  WORKTREES_DIR?: string;
  /** Reusable worktree slots per repository: at most this many sessions run at once on one repository. */
  @Transform(toInt) @IsInt() @Min(1) @Max(64) WORKTREE_SLOTS_PER_REPOSITORY = 8;
  /** Branches of finished sessions never merged nor discarded, and idle slots, are removed after this many hours. */
  @Transform(toInt) @IsInt() @Min(1) @Max(87600) WORKTREE_RETENTION_HOURS = 72;
  /** Author and committer of the commits the orchestrator makes of an agent's work. */
  @IsString() @MinLength(1) @Matches(/^[^<>\n]+$/, { message: 'WORKTREE_AUTHOR_NAME must not contain <, > or a newline' })
  WORKTREE_AUTHOR_NAME = 'OpenCode Orchestrator';
  @Matches(/^[^<>\s@]+@[^<>\s@]+$/, { message: 'WORKTREE_AUTHOR_EMAIL must look like name@host' })
  WORKTREE_AUTHOR_EMAIL = 'orchestrator@localhost';
  /** How many resolver sessions a plan task's merge conflict gets before the task is CONFLICTED (0: none). */
  @Transform(toInt) @IsInt() @Min(0) @Max(10) MERGE_RESOLVER_TRIES = 2;
  /** An OpenCode permission request not answered within this many seconds is denied. */
  @Transform(toInt) @IsInt() @Min(1) @Max(86400) APPROVAL_TIMEOUT_SECONDS = 900;
  /**
   * A worker process (apps/worker) serves GET /metrics and GET /health on this port; 0: none.
   * The API serves /metrics on PORT instead. Default: DEFAULT_WORKER_METRICS_PORT of libs/observability.
   */
  @Transform(toInt) @IsInt() @Min(0) @Max(65535) WORKER_METRICS_PORT = 9465;
  /** The API reads the deployment-wide gauges (sessions, run jobs, plans, plan tasks) from PostgreSQL and Redis this often, in the background; a scrape reads none. */
  @Transform(toInt) @IsInt() @Min(1) @Max(3600) METRICS_REFRESH_SECONDS = 15;
  /** Server-sent event streams one API process holds open at once; more are refused with 503 TOO_MANY_STREAMS. */
  @Transform(toInt) @IsInt() @Min(1) @Max(100_000) MAX_EVENT_STREAMS = 200;
  /** ... and per API key (the anonymous caller when API_KEY is unset), on one API process. */
  @Transform(toInt) @IsInt() @Min(1) @Max(100_000) MAX_EVENT_STREAMS_PER_KEY = 20;

  /** Limits per provider or model held across all workers (provider-limits.ts), e.g. `anthropic/*=concurrency:8,rpm:50`. Unset: none. */
  @Transform(emptyToUndefined) @IsOptional() @IsString() PROVIDER_LIMITS?: string;
  /** A model whose quota is exhausted (insufficient_quota, no Retry-After) is left alone for this many minutes. */
  @Transform(toInt) @IsInt() @Min(1) @Max(10080) PROVIDER_QUOTA_HOLD_MINUTES = 60;
  /** Model steps one turn may take unless its agent's binding says otherwise (STEP_LIMIT). */
  @Transform(toInt) @IsInt() @Min(1) @Max(100000) TURN_MAX_STEPS = 200;
  /** The same tool call (tool and input) this many times in one turn stops it (DOOM_LOOP). */
  @Transform(toInt) @IsInt() @Min(2) @Max(1000) DOOM_LOOP_REPEATS = 5;
  /** A turn showing no progress (no text, tool call or step) for this many seconds is stopped (NO_PROGRESS). */
  @Transform(toInt) @IsInt() @Min(5) @Max(86400) NO_PROGRESS_SECONDS = 600;
  /** A plan task's cost forecast when its agent has no finished run yet, USD per complexity point (see README). */
  @Transform(toNumber) @IsNumber() @Min(0) @Max(1000) PLAN_TASK_COST_PRIOR_USD = 0.05;
  /** Finished sessions' bulky fields and finished plans are pruned this many days after they finished (README, Retention); 0: kept for ever. */
  @Transform(toInt) @IsInt() @Min(0) @Max(36500) RETENTION_DAYS = 30;
  /** Rows one pruning statement touches (each its own short transaction). */
  @Transform(toInt) @IsInt() @Min(1) @Max(10000) RETENTION_BATCH_SIZE = 500;
}

export class ConfigValidationError extends Error {}

/** 127.0.0.0/8, ::1 and localhost: only processes of this machine can connect. */
function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/** Parses and validates an environment; throws one error naming every bad variable. */
export function validateEnvironment(env: Record<string, string | undefined>): EnvironmentSchema {
  const known = Object.keys(new EnvironmentSchema());
  const picked: Record<string, unknown> = {};
  const optional = ['OPENCODE_HOST', 'OPENCODE_HOSTS', 'OPENCODE_SERVERS', 'OPENCODE_PASSWORD', 'OPENCODE_MODEL', 'API_KEY', 'REDIS_PASSWORD', 'WORKSPACE_ROOTS', 'OPENCODE_PASS_ENV', 'LOG_FORMAT', 'WORKTREES_DIR', 'PROVIDER_LIMITS'];
  for (const key of [...known, ...optional]) {
    if (env[key] !== undefined) picked[key] = env[key];
  }
  const parsed = plainToInstance(EnvironmentSchema, picked, { exposeDefaultValues: true });
  const errors = validateSync(parsed, { whitelist: true });
  const lines = errors.map(
    (e) => `  ${e.property}=${JSON.stringify(e.value)}: ${Object.values(e.constraints ?? {}).join('; ')}`,
  );
  if (errors.length === 0 && !isLoopbackHost(parsed.HOST) && !parsed.API_KEY) {
    lines.push(
      `  API_KEY is not set while HOST=${JSON.stringify(parsed.HOST)} is not a loopback address: ` +
        'anyone who can reach the port could run commands through the agents. Set API_KEY (8+ characters) or HOST=127.0.0.1',
    );
  }
  if (errors.length === 0) {
    try {
      parseProviderLimits(parsed.PROVIDER_LIMITS);
    } catch (err) {
      lines.push(`  PROVIDER_LIMITS=${JSON.stringify(parsed.PROVIDER_LIMITS)}: ${(err as Error).message}`);
    }
  }
  if (lines.length > 0) {
    throw new ConfigValidationError(`Invalid environment configuration:\n${lines.join('\n')}`);
  }
  return parsed;
}

import { CommonErrorCode, DomainError } from './domain-error';

/** A shared service the orchestrator cannot work without, found out of reach: PostgreSQL or Redis. */
export type Outage = 'database' | 'redis';

/** How long a client is told to wait (Retry-After) before it asks again during an outage. */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;

const OUTAGE_CODE: Record<Outage, CommonErrorCode> = {
  database: CommonErrorCode.DATABASE_UNAVAILABLE,
  redis: CommonErrorCode.REDIS_UNAVAILABLE,
};
const OUTAGE_MESSAGE: Record<Outage, string> = {
  database: 'The database (PostgreSQL) cannot be reached right now; retry later',
  redis: 'Redis (the queue, locks and live events) cannot be reached right now; retry later',
};

/** A request that could not be served because PostgreSQL or Redis is out of reach: 503, retryable, Retry-After. */
export class ServiceUnavailableError extends DomainError<CommonErrorCode> {
  readonly code: CommonErrorCode;

  constructor(
    readonly outage: Outage,
    details?: Record<string, unknown>,
  ) {
    super(OUTAGE_MESSAGE[outage], details, { retryable: true, retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS });
    this.code = OUTAGE_CODE[outage];
  }
}

/** How retryWhileUnavailable waits for a service to come back. */
export interface WhileUnavailableOptions {
  /** Whether an error says the service is out of reach (waiting may help), not that the work is wrong. */
  isUnavailable(err: unknown): boolean;
  /** How long to keep trying, counted from the first unavailable failure; past it the last error is thrown. */
  budgetMs: number;
  /** The first pause between tries (default 500 ms), doubled after each try up to maxDelayMs (default 5000 ms). */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops waiting at once (the last error is thrown): the process is shutting down. */
  signal?: AbortSignal;
  /** Told once, at the first unavailable failure. */
  onWait?(err: unknown): void;
  /**
   * Told once when a wait ends: 'recovered' when the service answered again (the work succeeded,
   * or failed for another reason), 'gave_up' when the budget ran out or the signal fired.
   */
  onEnd?(outcome: 'recovered' | 'gave_up', waitedMs: number, lastError?: unknown): void;
}

/**
 * Runs `work` and, while it fails because the service it needs is out of reach, runs it again
 * after a growing pause, for up to `budgetMs`. Any other error goes on at once. `work` gets the
 * try's number (1 first): a later try must not assume that an earlier one changed nothing.
 */
export async function retryWhileUnavailable<T>(work: (tryNumber: number) => Promise<T>, options: WhileUnavailableOptions): Promise<T> {
  const maxDelayMs = options.maxDelayMs ?? 5_000;
  let delayMs = options.initialDelayMs ?? 500;
  let waitingSince: number | undefined;
  for (let tryNumber = 1; ; tryNumber++) {
    try {
      const result = await work(tryNumber);
      if (waitingSince !== undefined) options.onEnd?.('recovered', Date.now() - waitingSince);
      return result;
    } catch (err) {
      if (!options.isUnavailable(err)) {
        if (waitingSince !== undefined) options.onEnd?.('recovered', Date.now() - waitingSince, err);
        throw err;
      }
      const now = Date.now();
      if (waitingSince === undefined) {
        waitingSince = now;
        options.onWait?.(err);
      }
      const leftMs = waitingSince + options.budgetMs - now;
      if (leftMs <= 0 || options.signal?.aborted) {
        options.onEnd?.('gave_up', now - waitingSince, err);
        throw err;
      }
      await pause(Math.min(delayMs, leftMs), options.signal);
      delayMs = Math.min(delayMs * 2, maxDelayMs);
    }
  }
}

/** Resolves after ms, or at once when the signal fires. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

import { BeforeApplicationShutdown, Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { errorMessage, retryWhileUnavailable } from '@app/shared';
import {
  DATABASE_AVAILABILITY,
  DATABASE_WAIT_METRICS,
  DatabaseAvailabilityPort,
  DatabaseWaitMetricsPort,
} from './ports/database-availability.port';

/** The pauses between a waiting write's tries: 0.5 s, doubled up to 5 s (tests inject shorter ones). */
export const DATABASE_WAIT_PAUSES = Symbol('DATABASE_WAIT_PAUSES');
const DEFAULT_PAUSES = { initialDelayMs: 500, maxDelayMs: 5_000 };

/** A run waiting for the database now. */
export interface DatabaseWaiter {
  sessionId: string;
  /** What it waits to write. */
  what: string;
  since: Date;
}

/**
 * Writes of a run that must not be lost (its claim, its turn, its outcome) wait while PostgreSQL
 * is out of reach, up to the session's own timeout, instead of failing the run's job: BullMQ's
 * few quick retries would be spent in seconds and the outcome of a turn OpenCode finished lost.
 * A wait is logged when it starts and ends, counted in the metrics, and listed (waiting()) for
 * the readiness probe. Any other error goes on at once. At shutdown the waits stop: their jobs go
 * back to the queue and another worker resumes them from the OpenCode session's state.
 */
@Injectable()
export class DatabaseWait implements BeforeApplicationShutdown {
  private readonly logger = new Logger(DatabaseWait.name);
  private readonly waiters = new Set<DatabaseWaiter>();
  private readonly shutdown = new AbortController();

  constructor(
    @Inject(DATABASE_AVAILABILITY) private readonly database: DatabaseAvailabilityPort,
    @Optional() @Inject(DATABASE_WAIT_METRICS) private readonly metrics: DatabaseWaitMetricsPort | null = null,
    @Optional() @Inject(DATABASE_WAIT_PAUSES) private readonly pauses: { initialDelayMs: number; maxDelayMs: number } = DEFAULT_PAUSES,
  ) {}

  /** The runs of this process waiting for the database now, oldest first. */
  waiting(): DatabaseWaiter[] {
    return [...this.waiters].sort((a, b) => a.since.getTime() - b.since.getTime());
  }

  /**
   * Runs `write` for the session, and again while it fails because the database is out of reach,
   * for up to timeoutSeconds; then (or at shutdown) throws the last error. `write` gets the try's
   * number: after a failed try, what it had in hand may already hold its change.
   */
  async write<T>(sessionId: string, what: string, timeoutSeconds: number, write: (tryNumber: number) => Promise<T>): Promise<T> {
    let waiter: DatabaseWaiter | undefined;
    return retryWhileUnavailable(write, {
      isUnavailable: (err) => this.database.isUnavailable(err),
      budgetMs: timeoutSeconds * 1000,
      ...this.pauses,
      signal: this.shutdown.signal,
      onWait: (err) => {
        waiter = { sessionId, what, since: new Date() };
        this.waiters.add(waiter);
        this.metrics?.waitStarted();
        this.logger.warn(
          `Session ${sessionId}: the database cannot be reached (${errorMessage(err)}); the run waits for it, up to ${timeoutSeconds} s, to record ${what}`,
        );
      },
      onEnd: (outcome, waitedMs, err) => {
        if (waiter) this.waiters.delete(waiter);
        this.metrics?.waitEnded(outcome, waitedMs);
        const seconds = Math.round(waitedMs / 1000);
        if (outcome === 'recovered') {
          this.logger.warn(`Session ${sessionId}: the database is back after ${seconds} s; the run goes on recording ${what}`);
        } else {
          const why = this.shutdown.signal.aborted ? 'the process is shutting down' : `its timeout (${timeoutSeconds} s) passed`;
          this.logger.error(`Session ${sessionId}: gave up waiting for the database after ${seconds} s (${why}); could not record ${what}: ${errorMessage(err)}`);
        }
      },
    });
  }

  beforeApplicationShutdown(): void {
    this.shutdown.abort();
  }
}

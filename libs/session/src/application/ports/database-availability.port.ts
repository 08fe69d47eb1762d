/**
 * What a run needs to know of the database beyond its repository: whether an error says that
 * PostgreSQL is out of reach (refused, lost, shutting down), so that waiting may help, rather than
 * that the write is wrong (adapter: platform's OutageClassifier).
 */
export interface DatabaseAvailabilityPort {
  isUnavailable(err: unknown): boolean;
}

export const DATABASE_AVAILABILITY = Symbol('DATABASE_AVAILABILITY');

/** How a run's wait for the database ended: the database answered again, or the session's timeout passed first. */
export type DatabaseWaitOutcome = 'recovered' | 'gave_up';

/** What the waits report for the metrics (adapter: DatabaseWaitMetrics; absent: nothing is recorded). */
export interface DatabaseWaitMetricsPort {
  /** A run started waiting for the database. */
  waitStarted(): void;
  /** ...and its wait ended so. */
  waitEnded(outcome: DatabaseWaitOutcome, waitedMs: number): void;
}

export const DATABASE_WAIT_METRICS = Symbol('DATABASE_WAIT_METRICS');

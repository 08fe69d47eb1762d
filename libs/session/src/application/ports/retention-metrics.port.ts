/** What the session context's retention prunes, as the metrics name it. */
export type SessionRetentionKind = 'session_outputs';

/** What retention reports for the metrics (adapter: SessionRetentionMetrics; absent: nothing is recorded). */
export interface SessionRetentionMetricsPort {
  pruned(kind: SessionRetentionKind, count: number): void;
}

export const SESSION_RETENTION_METRICS = Symbol('SESSION_RETENTION_METRICS');

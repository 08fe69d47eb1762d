/** What the task context's retention prunes, as the metrics name it. */
export type PlanRetentionKind = 'plans' | 'plan_tasks';

/** What plan retention reports for the metrics (adapter: PlanRetentionMetrics; absent: nothing is recorded). */
export interface PlanRetentionMetricsPort {
  pruned(kind: PlanRetentionKind, count: number): void;
}

export const PLAN_RETENTION_METRICS = Symbol('PLAN_RETENTION_METRICS');

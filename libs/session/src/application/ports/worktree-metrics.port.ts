/** How a merge of a branch ended, for the metrics: merged, nothing to do, refused (conflict, dirty target). */
export type MergeOutcomeLabel = 'merged' | 'up_to_date' | 'conflict' | 'dirty';

/** What the worktree use cases report for the metrics (adapter: WorktreeMetrics; absent: nothing is recorded). */
export interface WorktreeMetricsPort {
  /** Bytes used under WORKTREES_DIR, as last measured. */
  diskUsed(bytes: number): void;
  merged(outcome: MergeOutcomeLabel): void;
}

export const WORKTREE_METRICS = Symbol('WORKTREE_METRICS');

import type { GitAuthor } from '@app/workspace';

/**
 * Resolver sessions a task's merge conflict gets before the task is CONFLICTED (MERGE_RESOLVER_TRIES
 * when the configuration has it).
 */
export const MERGE_RESOLVER_TRIES = 2;

/** Author and committer of the merge commits the orchestrator makes (WORKTREE_AUTHOR_* when configured). */
export const ORCHESTRATOR_GIT_AUTHOR: GitAuthor = { name: 'OpenCode Orchestrator', email: 'orchestrator@localhost' };

/**
 * How long a scheduler tick waits for its turn in a repository's merge queue before leaving the
 * task MERGING for the next tick: less than the 30 s plan commands wait for the tick's plan lock.
 */
export const TICK_MERGE_QUEUE_WAIT_MS = 20_000;

/** How a plan's tasks are merged into its integration branch. */
export interface PlanMergeSettings {
  resolverTries: number;
  author: GitAuthor;
  tickQueueWaitMs: number;
}

export const DEFAULT_PLAN_MERGE_SETTINGS: PlanMergeSettings = {
  resolverTries: MERGE_RESOLVER_TRIES,
  author: ORCHESTRATOR_GIT_AUTHOR,
  tickQueueWaitMs: TICK_MERGE_QUEUE_WAIT_MS,
};

export const PLAN_MERGE_SETTINGS = Symbol('PLAN_MERGE_SETTINGS');

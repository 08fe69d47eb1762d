/**
 * A plan in a git workspace works on an integration branch of its own: each task on a branch made
 * from it (once everything the task depends on is merged into it), merged back when the task is
 * done. The workspace's own branch is left alone until an operator merges the plan into it.
 */
export interface PlanBranch {
  /** `orchestrator/plan-<first 8 of the plan id>`. */
  name: string;
  /** The realpath of the top of the git work tree the plan's workspace is in. */
  repository: string;
  /** The workspace's HEAD when the plan was run: what the branch was made from. */
  baseCommit: string;
}

/** What the integration branch holds now: its head, and what changed since its base commit. */
export interface PlanBranchChanges {
  headCommit: string;
  files: string[];
  insertions: number;
  deletions: number;
}

/** A task's way through the merge queue (a plan with a branch only). */
export interface TaskMerge {
  /** The session whose branch is to be merged: the task's own (or its Debugger retry's), or its last resolver's. */
  source: string;
  /** When it joined the merge queue: the queue is first come, first merged. */
  queuedAt: Date;
  /** The files the last merge attempt conflicted on ([] until one did). */
  conflicts: string[];
  /** The integration branch's commit once the task's work is in it. */
  commit: string | null;
  mergedAt: Date | null;
}

/** Subject and body of the merge commit of a task's branch: which task, which session's work. */
export function taskMergeMessage(task: { key: string; title: string }, sessionId: string): string {
  return `Merge task ${task.key}: ${oneLine(task.title)} (session ${sessionId})`;
}

/** The merge commit of a plan's integration branch into the workspace's branch. */
export function planMergeMessage(plan: { id: string; requirement: string }, branch: string): string {
  return `Merge plan ${plan.id.slice(0, 8)} (${branch}): ${oneLine(plan.requirement).slice(0, 72)}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * The statuses of a plan and of its tasks, and the one table of allowed moves for each; every
 * status change of a plan or task goes through Plan.moveTo / PlanTask.moveTo, which check them.
 */
export enum PlanStatus {
  DRAFT = 'DRAFT',
  RUNNING = 'RUNNING',
  /**
   * Nothing new starts (see Plan.pausedReason): tasks already running finish and are settled and
   * merged as usual. POST run resumes it (RUNNING).
   */
  PAUSED = 'PAUSED',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

const PLAN_TRANSITIONS: Readonly<Record<PlanStatus, readonly PlanStatus[]>> = {
  [PlanStatus.DRAFT]: [PlanStatus.RUNNING, PlanStatus.CANCELLED],
  [PlanStatus.RUNNING]: [PlanStatus.PAUSED, PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.CANCELLED],
  // → FAILED | COMPLETED: its last tasks settled while it was paused (the rest blocked), or its workspace vanished.
  [PlanStatus.PAUSED]: [PlanStatus.RUNNING, PlanStatus.CANCELLED, PlanStatus.FAILED, PlanStatus.COMPLETED],
  [PlanStatus.COMPLETED]: [],
  [PlanStatus.FAILED]: [],
  [PlanStatus.CANCELLED]: [],
};

export enum TaskStatus {
  /** Waiting for its dependencies, or for a free slot (or for its plan to resume: its session was stopped at the plan's budget). */
  PENDING = 'PENDING',
  /** Its session (first attempt) was created and started. */
  RUNNING = 'RUNNING',
  /** Its first session failed; the retry runs on a DEBUGGER agent. */
  RETRYING = 'RETRYING',
  /** Its session completed on its own branch (a plan in a git workspace): waiting in the merge queue. */
  MERGING = 'MERGING',
  /** Its branch conflicted with the plan's integration branch: a resolver session (DEBUGGER) runs. */
  RESOLVING = 'RESOLVING',
  /** Done: in a git workspace, only once its branch is merged into the plan's integration branch. */
  COMPLETED = 'COMPLETED',
  /** Failed on its first attempt and on the Debugger's retry (or could not be given a session, or merged). */
  FAILED = 'FAILED',
  /** Its branch still conflicts with the integration branch after every resolver try. */
  CONFLICTED = 'CONFLICTED',
  /** A dependency failed, conflicted, was cancelled or was blocked: it will never run. */
  BLOCKED = 'BLOCKED',
  /** The plan was cancelled, or its session was cancelled by someone else. */
  CANCELLED = 'CANCELLED',
}

const TASK_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  // PENDING → FAILED: no session could be made for it (no eligible agent, workspace gone).
  [TaskStatus.PENDING]: [TaskStatus.RUNNING, TaskStatus.BLOCKED, TaskStatus.CANCELLED, TaskStatus.FAILED],
  // → COMPLETED at once in a shared workspace, or when its session changed nothing.
  // → PENDING (from RETRYING too): its session was stopped at the plan's budget; a new one starts when the plan resumes.
  [TaskStatus.RUNNING]: [TaskStatus.COMPLETED, TaskStatus.MERGING, TaskStatus.RETRYING, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.PENDING],
  [TaskStatus.RETRYING]: [TaskStatus.COMPLETED, TaskStatus.MERGING, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.PENDING],
  // MERGING → FAILED: git could not merge its branch at all (not a conflict).
  [TaskStatus.MERGING]: [TaskStatus.COMPLETED, TaskStatus.RESOLVING, TaskStatus.CONFLICTED, TaskStatus.FAILED, TaskStatus.CANCELLED],
  // Back to MERGING: the resolver's branch joins the queue, or (the resolver failed) the task's own does again.
  [TaskStatus.RESOLVING]: [TaskStatus.MERGING, TaskStatus.CONFLICTED, TaskStatus.CANCELLED],
  [TaskStatus.COMPLETED]: [],
  [TaskStatus.FAILED]: [],
  [TaskStatus.CONFLICTED]: [],
  [TaskStatus.BLOCKED]: [],
  [TaskStatus.CANCELLED]: [],
};

const FINAL_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CONFLICTED, TaskStatus.BLOCKED, TaskStatus.CANCELLED];
/** Started and not final: the scheduler looks at them every tick (their session, or the merge queue). */
export const ACTIVE_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.RUNNING, TaskStatus.RETRYING, TaskStatus.MERGING, TaskStatus.RESOLVING];
/** Tasks whose agent session runs: each occupies one of the plan's parallel-task slots (a merge waiting in the queue does not). */
export const SLOT_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.RUNNING, TaskStatus.RETRYING, TaskStatus.RESOLVING];
/** Not final: a cancelled plan with one of these still has work for the scheduler. */
export const LIVE_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.PENDING, ...ACTIVE_TASK_STATUSES];
/** A dependency in one of these makes its dependents BLOCKED. */
export const BLOCKING_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.FAILED, TaskStatus.CONFLICTED, TaskStatus.BLOCKED, TaskStatus.CANCELLED];

export function canMovePlan(from: PlanStatus, to: PlanStatus): boolean {
  return PLAN_TRANSITIONS[from].includes(to);
}

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

export function isFinalTask(status: TaskStatus): boolean {
  return FINAL_TASK_STATUSES.includes(status);
}

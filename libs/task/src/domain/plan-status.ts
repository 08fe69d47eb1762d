/**
 * The statuses of a plan and of its tasks, and the one table of allowed moves for each; every
 * status change of a plan or task goes through Plan.moveTo / PlanTask.moveTo, which check them.
 */
export enum PlanStatus {
  DRAFT = 'DRAFT',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

const PLAN_TRANSITIONS: Readonly<Record<PlanStatus, readonly PlanStatus[]>> = {
  [PlanStatus.DRAFT]: [PlanStatus.RUNNING, PlanStatus.CANCELLED],
  [PlanStatus.RUNNING]: [PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.CANCELLED],
  [PlanStatus.COMPLETED]: [],
  [PlanStatus.FAILED]: [],
  [PlanStatus.CANCELLED]: [],
};

export enum TaskStatus {
  /** Waiting for its dependencies, or for a free slot. */
  PENDING = 'PENDING',
  /** Its session (first attempt) was created and started. */
  RUNNING = 'RUNNING',
  /** Its first session failed; the retry runs on a DEBUGGER agent. */
  RETRYING = 'RETRYING',
  COMPLETED = 'COMPLETED',
  /** Failed on its first attempt and on the Debugger's retry (or could not be given a session). */
  FAILED = 'FAILED',
  /** A dependency failed, was cancelled or was blocked: it will never run. */
  BLOCKED = 'BLOCKED',
  /** The plan was cancelled, or its session was cancelled by someone else. */
  CANCELLED = 'CANCELLED',
}

const TASK_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  // PENDING → FAILED: no session could be made for it (no eligible agent, workspace gone).
  [TaskStatus.PENDING]: [TaskStatus.RUNNING, TaskStatus.BLOCKED, TaskStatus.CANCELLED, TaskStatus.FAILED],
  [TaskStatus.RUNNING]: [TaskStatus.COMPLETED, TaskStatus.RETRYING, TaskStatus.FAILED, TaskStatus.CANCELLED],
  [TaskStatus.RETRYING]: [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED],
  [TaskStatus.COMPLETED]: [],
  [TaskStatus.FAILED]: [],
  [TaskStatus.BLOCKED]: [],
  [TaskStatus.CANCELLED]: [],
};

const FINAL_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.BLOCKED, TaskStatus.CANCELLED];
/** Tasks that occupy one of the plan's parallel-task slots. */
export const ACTIVE_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.RUNNING, TaskStatus.RETRYING];
/** A dependency in one of these makes its dependents BLOCKED. */
export const BLOCKING_TASK_STATUSES: readonly TaskStatus[] = [TaskStatus.FAILED, TaskStatus.BLOCKED, TaskStatus.CANCELLED];

export function canMovePlan(from: PlanStatus, to: PlanStatus): boolean {
  return PLAN_TRANSITIONS[from].includes(to);
}

export function canMoveTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

export function isFinalTask(status: TaskStatus): boolean {
  return FINAL_TASK_STATUSES.includes(status);
}

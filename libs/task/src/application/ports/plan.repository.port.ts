import { Plan, PlanTask } from '../../domain/plan';
import { PlanStatus } from '../../domain/plan-status';

export interface PlanListQuery {
  status?: PlanStatus;
  limit: number;
}

/** Where a retention walk over prunable plans got to: the last plan it looked at. */
export interface PrunablePlanCursor {
  endedAt: Date;
  id: string;
}

/** A plan retention may delete, with every session its tasks had (first attempts, retries, resolvers). */
export interface PrunablePlan extends PrunablePlanCursor {
  sessionIds: string[];
}

export interface PlanRepositoryPort {
  /** The plan and its tasks, in one transaction. */
  insert(plan: Plan, tasks: readonly PlanTask[]): Promise<void>;
  /**
   * Version-checked writes (`WHERE id AND version`): PLAN_VERSION_CONFLICT when the stored row
   * changed since it was read (or the plan was deleted); nothing is written then.
   */
  updatePlan(plan: Plan): Promise<void>;
  updateTask(task: PlanTask): Promise<void>;
  /** Deleted plans are invisible unless includeDeleted. */
  findById(id: string, options?: { includeDeleted?: boolean }): Promise<Plan | null>;
  /** The plan's tasks in their input order. */
  tasksOf(planId: string): Promise<PlanTask[]>;
  /** Newest first. */
  list(query: PlanListQuery): Promise<Plan[]>;
  /**
   * Plans the scheduler has work on: RUNNING ones, PAUSED ones with a task still running or
   * merging (settled and merged while paused), and CANCELLED ones that still have a task not in a
   * final status (a cancel interrupted half-way), oldest first.
   */
  activePlanIds(): Promise<string[]>;
  /** Mean complexity of the last `lastN` plan tasks the agent was given (any plan); null when none. */
  meanComplexityOf(agentId: string, lastN: number): Promise<number | null>;
  /**
   * Retention: up to `limit` plans that ended before `before` and may go, oldest first and after
   * `after` (where the previous batch stopped): finished ones (COMPLETED, FAILED, CANCELLED) with
   * no task left in a live status, deleted or not, and DRAFTs their user deleted.
   */
  findPrunable(before: Date, limit: number, after: PrunablePlanCursor | null): Promise<PrunablePlan[]>;
  /**
   * Deletes these plans with their tasks, in one short transaction: those that still qualify (see
   * findPrunable) and that no writer holds. Returns how many plans and tasks went.
   */
  deletePrunable(ids: readonly string[], before: Date): Promise<{ plans: number; tasks: number }>;
}

export const PLAN_REPOSITORY = Symbol('PLAN_REPOSITORY');

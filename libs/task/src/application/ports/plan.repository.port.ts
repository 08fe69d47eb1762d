import { Plan, PlanTask } from '../../domain/plan';
import { PlanStatus } from '../../domain/plan-status';

export interface PlanListQuery {
  status?: PlanStatus;
  limit: number;
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
}

export const PLAN_REPOSITORY = Symbol('PLAN_REPOSITORY');

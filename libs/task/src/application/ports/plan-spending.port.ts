import type { Budget, Spend } from '@app/shared';

/**
 * The spending context as plans need it: the ledger of what each plan's sessions spent, and the
 * mirror of each plan's budget its run-time guard enforces (a running session is stopped at the
 * plan's limit with the failure code BUDGET_EXCEEDED).
 */
export interface PlanSpendingPort {
  /** What each plan's sessions spent so far (running ones included); a plan that spent nothing may be missing. */
  spentBy(planIds: string[]): Promise<Map<string, Spend>>;
  /** Makes the guard enforce `budget` (null: none) for the plan from now on; idempotent. */
  setLimit(planId: string, budget: Budget | null): Promise<void>;
}

export const PLAN_SPENDING = Symbol('PLAN_SPENDING');

/** The session failure code of a session stopped at a budget (the spending context's guard). */
export const BUDGET_EXCEEDED = 'BUDGET_EXCEEDED';

import type { Budget, Spend } from '@app/shared';

/**
 * The spending context as the agent context needs it: it holds a mirror of each agent's daily
 * budget (its run-time guard enforces it) and the ledger of what each agent spent.
 */
export interface SpendLimitsPort {
  /** Makes the guard enforce `budget` (null: none) for the agent from now on. */
  setAgentBudget(agentId: string, budget: Budget | null): Promise<void>;
  /** What each agent spent this UTC day; an agent that spent nothing may be missing from the map. */
  spentToday(agentIds: string[]): Promise<Map<string, Spend>>;
}

export const SPEND_LIMITS = Symbol('AGENT_SPEND_LIMITS');

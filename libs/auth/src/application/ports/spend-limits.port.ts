import type { Budget, Spend } from '@app/shared';

/**
 * The spending context as the auth context needs it: it holds a mirror of each key's daily
 * budget (its run-time guard enforces it) and the ledger of what the sessions of each key spent.
 */
export interface SpendLimitsPort {
  /** Makes the guard enforce `budget` (null: none) for the key from now on. */
  setKeyBudget(keyId: string, budget: Budget | null): Promise<void>;
  /** What the sessions of each key spent this UTC day; a key that spent nothing may be missing from the map. */
  spentToday(keyIds: string[]): Promise<Map<string, Spend>>;
}

export const SPEND_LIMITS = Symbol('KEY_SPEND_LIMITS');

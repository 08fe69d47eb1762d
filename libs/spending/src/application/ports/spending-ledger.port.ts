import type { Budget, Spend } from '@app/shared';
import type { RunTotal } from '../../domain/run-total';
import type { LedgerKey, LimitScope, SpendScope } from '../../domain/spend-scope';

/** One run attempt of a session: what idempotent recording is keyed by. */
export interface RunAttempt {
  sessionId: string;
  attempt: number;
}

/** A ledger row as it stands, with the budget stored for its scope (null: none, and always for SESSION). */
export interface LedgerStanding extends LedgerKey {
  spent: Spend;
  budget: Budget | null;
}

export interface RunStanding {
  /** What has been recorded for the attempt (zero when nothing yet). */
  run: RunTotal;
  /** One per key asked for, in the same order; a row not written yet is zero spent. */
  rows: LedgerStanding[];
}

export interface RecordedIncrease {
  /** The attempt's record before and after this report. */
  runBefore: RunTotal;
  runAfter: RunTotal;
  /** What the rows gained (zero when the report brought nothing new: then nothing is written). */
  increase: RunTotal;
  /** The rows after the update, one per key, in the same order, with their budgets. */
  rows: LedgerStanding[];
}

/**
 * The spending ledger: budgets copied from their owners, what each scope has spent (per day for
 * daily scopes), and what each run attempt has recorded, so that reporting again counts nothing twice.
 */
export interface SpendingLedgerPort {
  /** Stores (or with null, deletes) the budget of a plan, an agent or an API key. */
  setLimit(scope: LimitScope, scopeId: string, budget: Budget | null): Promise<void>;
  /** The attempt's record and these rows with their budgets, as they stand. */
  standing(run: RunAttempt, keys: readonly LedgerKey[]): Promise<RunStanding>;
  /**
   * In one transaction: locks the attempt's record, takes what the reported cumulative total has
   * beyond it (recordRunTotal), and adds that to every row of `keys` (created when missing).
   */
  record(run: RunAttempt, reported: RunTotal, keys: readonly LedgerKey[]): Promise<RecordedIncrease>;
  /** Spent by each id on that ledger day; ids without a row are left out. */
  spent(scope: SpendScope, ids: readonly string[], day: string): Promise<Map<string, Spend>>;
}

export const SPENDING_LEDGER = Symbol('SPENDING_LEDGER');

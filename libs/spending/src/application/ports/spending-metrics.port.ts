import type { BudgetLimit, Spend } from '@app/shared';
import type { BudgetEvent } from '../../domain/budget-check';
import type { SpendScope } from '../../domain/spend-scope';

/** Who spent, for the spend counters (null: none). */
export interface SpendLabels {
  agent: string | null;
  role: string | null;
  model: string;
  key: string | null;
  plan: string | null;
}

/** How the spending context reports what it sees; the adapter decides where it goes. */
export interface SpendingMetricsPort {
  /** Spending newly recorded by a run. */
  spent(labels: SpendLabels, increase: Spend): void;
  /** The share (0-1) of a budget's limit left, as the last update saw it. */
  budgetLeft(scope: SpendScope, scopeId: string, limit: BudgetLimit, share: number): void;
  /** A budget taken across 80% (warning) or 100% (exceeded). */
  budgetEvent(scope: SpendScope, event: BudgetEvent): void;
}

export const SPENDING_METRICS = Symbol('SPENDING_METRICS');


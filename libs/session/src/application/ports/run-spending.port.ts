/** What a run needs from the spending context: its budgets judged against streamed usage (adapter: RunSpendingAdapter over @app/spending). */

import type { Budget, TokenUsage } from '@app/shared';

export interface RunSpendScopes {
  sessionId: string;
  attempt: number;
  sessionBudget: Budget | null;
  planId: string | null;
  agentId: string | null;
  keyId: string | null;
  /** For metric labels. */
  agentName: string | null;
  role: string | null;
  model: string;
}

/** A budget reached: which one (SESSION, PLAN, AGENT, KEY), which limit, and a message saying so. */
export interface RunBudgetBreach {
  scope: string;
  scopeId: string;
  limit: string;
  message: string;
}

export interface RunBudgetWarning {
  scope: string;
  scopeId: string;
  limit: string;
  ratio: number;
  message: string;
}

export interface RunSpendCheck {
  exceeded: RunBudgetBreach | null;
  /** Budgets that passed 80% with this update (each crossing once). */
  warnings: RunBudgetWarning[];
}

export interface RunSpendTracker {
  /** Every budget's standing when the run opened. */
  readonly opening: RunSpendCheck;
  /** The attempt's cumulative usage and running time so far; records the increase, judges every budget. */
  update(total: TokenUsage, runningMs: number): Promise<RunSpendCheck>;
}

export interface RunSpendingPort {
  openRun(scopes: RunSpendScopes): Promise<RunSpendTracker>;
}

export const RUN_SPENDING = Symbol('RUN_SPENDING');

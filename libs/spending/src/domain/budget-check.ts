import { BUDGET_WARNING_RATIO, evaluateBudget } from '@app/shared';
import type { Budget, BudgetLimit, Spend } from '@app/shared';
import { isDaily, type SpendScope } from './spend-scope';

/** A budget reached: the run must stop. */
export interface BudgetBreach {
  scope: SpendScope;
  scopeId: string;
  limit: BudgetLimit;
  spent: Spend;
  budget: Budget;
  /** e.g. "plan 1234abcd… budget maxCostUsd 0.50 USD reached (0.51 USD spent)" */
  message: string;
}

/** A budget past 80% of one of its limits. */
export interface BudgetWarning {
  scope: SpendScope;
  scopeId: string;
  limit: BudgetLimit;
  ratio: number;
  message: string;
}

export interface SpendCheck {
  /** The first budget reached (scopes in the order SESSION, PLAN, AGENT, KEY), or null. */
  exceeded: BudgetBreach | null;
  /** Budgets that crossed 80% with this update and are not reached yet (each crossing reported once). */
  warnings: BudgetWarning[];
}

/** One budget's spending before and after an update (before = after when only looking). */
export interface BudgetStanding {
  scope: SpendScope;
  scopeId: string;
  budget: Budget | null;
  before: Spend;
  after: Spend;
}

export type BudgetEvent = 'warning' | 'exceeded';

const SCOPE_ORDER: Record<SpendScope, number> = { SESSION: 0, PLAN: 1, AGENT: 2, KEY: 3 };

/**
 * Judges every budget after an update: the first one reached is the breach (reported on every
 * update while it lasts, so a run cannot go on); a warning only for a budget this update took
 * across 80%, so that each crossing is reported once even with many runs sharing the budget.
 */
export function judgeSpending(standings: readonly BudgetStanding[]): SpendCheck {
  const ordered = [...standings].sort((a, b) => SCOPE_ORDER[a.scope] - SCOPE_ORDER[b.scope]);
  let exceeded: BudgetBreach | null = null;
  const warnings: BudgetWarning[] = [];
  for (const standing of ordered) {
    const { scope, scopeId, budget, before, after } = standing;
    if (!budget) continue;
    const now = evaluateBudget(budget, after);
    if (!now.limit) continue;
    if (now.state === 'exceeded') {
      exceeded ??= {
        scope,
        scopeId,
        limit: now.limit,
        spent: after,
        budget,
        message: `${budgetName(scope, scopeId)} ${now.limit} ${amount(now.limit, budget[now.limit]!)} reached (${amount(now.limit, spentOn(now.limit, after))} spent)`,
      };
    } else if (now.state === 'warning' && evaluateBudget(budget, before).state === 'ok') {
      warnings.push({
        scope,
        scopeId,
        limit: now.limit,
        ratio: now.ratio,
        message: `${budgetName(scope, scopeId)} ${now.limit} ${Math.floor(now.ratio * 100 + 1e-9)}% used (${amount(now.limit, spentOn(now.limit, after))} of ${amount(now.limit, budget[now.limit]!)})`,
      });
    }
  }
  return { exceeded, warnings };
}

/**
 * Where a run opens: what is already reached, and every budget already past 80% (a standing, so
 * all of them, not only crossings; the crossing itself was reported by the update that made it).
 */
export function judgeOpening(standings: ReadonlyArray<Omit<BudgetStanding, 'before'>>): SpendCheck {
  return judgeSpending(standings.map((s) => ({ ...s, before: { tokens: 0, costUsd: 0, minutes: 0 } })));
}

/** The thresholds (80%, 100%) an update took a budget across: what the events metric counts. */
export function crossedEvents(standing: BudgetStanding): BudgetEvent[] {
  if (!standing.budget) return [];
  const before = evaluateBudget(standing.budget, standing.before).ratio;
  const after = evaluateBudget(standing.budget, standing.after).ratio;
  const events: BudgetEvent[] = [];
  if (before < BUDGET_WARNING_RATIO && after >= BUDGET_WARNING_RATIO) events.push('warning');
  if (before < 1 && after >= 1) events.push('exceeded');
  return events;
}

/** Share left (0-1) of each limit of a budget. */
export function shareLeft(budget: Budget, spent: Spend): Array<{ limit: BudgetLimit; share: number }> {
  return (Object.keys(SPENT_OF) as BudgetLimit[])
    .filter((limit) => budget[limit] !== undefined)
    .map((limit) => ({ limit, share: Math.min(1, Math.max(0, 1 - spentOn(limit, spent) / budget[limit]!)) }));
}

const SPENT_OF: Record<BudgetLimit, keyof Spend> = { maxTokens: 'tokens', maxCostUsd: 'costUsd', maxMinutes: 'minutes' };

function spentOn(limit: BudgetLimit, spent: Spend): number {
  return spent[SPENT_OF[limit]];
}

function budgetName(scope: SpendScope, scopeId: string): string {
  const id = scopeId.length > 8 ? `${scopeId.slice(0, 8)}…` : scopeId;
  return `${scope.toLowerCase()} ${id} ${isDaily(scope) ? 'daily budget' : 'budget'}`;
}

function amount(limit: BudgetLimit, value: number): string {
  if (limit === 'maxTokens') return `${Math.round(value)} tokens`;
  if (limit === 'maxMinutes') return `${value.toFixed(1)} minutes`;
  return `${value > 0 && value < 0.01 ? value.toPrecision(2) : value.toFixed(2)} USD`;
}

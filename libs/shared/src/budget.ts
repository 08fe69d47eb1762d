/**
 * Budgets, in the words every context uses: a limit on what a session, a plan, an agent (per UTC
 * day) or an API key (per UTC day) may spend. Plain functions, so each context validates and
 * evaluates them the same way.
 */
import type { TokenUsage } from './run-outcome';

/** Any of the three limits; an absent one is no limit. */
export interface Budget {
  maxTokens?: number;
  maxCostUsd?: number;
  maxMinutes?: number;
}

/** What was spent, in the budget's units. */
export interface Spend {
  tokens: number;
  costUsd: number;
  /** Running time of the sessions counted (a session: its own running time). */
  minutes: number;
}

export type BudgetLimit = 'maxTokens' | 'maxCostUsd' | 'maxMinutes';
export const BUDGET_LIMITS: readonly BudgetLimit[] = ['maxTokens', 'maxCostUsd', 'maxMinutes'];
/** A warning is raised once spending passes this share of a limit. */
export const BUDGET_WARNING_RATIO = 0.8;

export const ZERO_SPEND: Readonly<Spend> = Object.freeze({ tokens: 0, costUsd: 0, minutes: 0 });

const LIMIT_MAX: Record<BudgetLimit, number> = { maxTokens: 1e12, maxCostUsd: 1e7, maxMinutes: 1e7 };

/** Every token the provider counted: input, output, reasoning, cache reads and writes. */
export function tokensOf(usage: TokenUsage | null | undefined): number {
  if (!usage) return 0;
  return usage.inputTokens + usage.outputTokens + usage.reasoningTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

/**
 * The problem with a budget as given (a request body's `budget`), or null when it is valid:
 * an object with only maxTokens (integer), maxCostUsd, maxMinutes (numbers), each > 0. `null`
 * means "no budget" and is valid.
 */
export function budgetProblem(value: unknown): { field: string; message: string } | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return { field: 'budget', message: 'must be an object {maxTokens?, maxCostUsd?, maxMinutes?} or null' };
  for (const [key, limit] of Object.entries(value as Record<string, unknown>)) {
    if (!BUDGET_LIMITS.includes(key as BudgetLimit)) return { field: `budget.${key}`, message: 'is not a budget limit (maxTokens, maxCostUsd, maxMinutes)' };
    if (limit === undefined || limit === null) continue;
    const max = LIMIT_MAX[key as BudgetLimit];
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit <= 0 || limit > max) {
      return { field: `budget.${key}`, message: `must be a number above 0 and at most ${max}` };
    }
    if (key === 'maxTokens' && !Number.isInteger(limit)) return { field: 'budget.maxTokens', message: 'must be a whole number of tokens' };
  }
  return null;
}

/** The budget without absent or null limits (null when none is left): what is stored and shown. */
export function normaliseBudget(value: Budget | null | undefined): Budget | null {
  if (!value) return null;
  const budget: Budget = {};
  for (const key of BUDGET_LIMITS) if (typeof value[key] === 'number') budget[key] = value[key];
  return Object.keys(budget).length > 0 ? budget : null;
}

const SPENT_OF: Record<BudgetLimit, keyof Spend> = { maxTokens: 'tokens', maxCostUsd: 'costUsd', maxMinutes: 'minutes' };

export interface BudgetVerdict {
  /** ok: under 80% of every limit; warning: at or over 80% of one; exceeded: one limit reached. */
  state: 'ok' | 'warning' | 'exceeded';
  /** The limit nearest to (or past) its end, when any limit is set. */
  limit?: BudgetLimit;
  /** spent / limit for that limit (1 = all of it). */
  ratio: number;
}

/** Where a spend stands against a budget: the most used limit decides. */
export function evaluateBudget(budget: Budget | null, spent: Spend): BudgetVerdict {
  let worst: BudgetVerdict = { state: 'ok', ratio: 0 };
  if (!budget) return worst;
  for (const limit of BUDGET_LIMITS) {
    const max = budget[limit];
    if (max === undefined) continue;
    const ratio = spent[SPENT_OF[limit]] / max;
    if (worst.limit === undefined || ratio > worst.ratio) worst = { state: 'ok', limit, ratio };
  }
  if (worst.ratio >= 1) worst.state = 'exceeded';
  else if (worst.ratio >= BUDGET_WARNING_RATIO) worst.state = 'warning';
  return worst;
}

/** What is left of each set limit (never below 0); null without a budget. */
export function remainingOf(budget: Budget | null, spent: Spend): Budget | null {
  if (!budget) return null;
  const left: Budget = {};
  for (const limit of BUDGET_LIMITS) {
    const max = budget[limit];
    if (max !== undefined) left[limit] = Math.max(0, max - spent[SPENT_OF[limit]]);
  }
  return left;
}

/** The spend of a usage and a running time. */
export function spendOf(usage: TokenUsage | null | undefined, runningMs = 0): Spend {
  return { tokens: tokensOf(usage), costUsd: usage?.costUsd ?? 0, minutes: runningMs / 60_000 };
}

export function addSpend(a: Spend, b: Spend): Spend {
  return { tokens: a.tokens + b.tokens, costUsd: a.costUsd + b.costUsd, minutes: a.minutes + b.minutes };
}

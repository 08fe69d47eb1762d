import { addSpend, Budget, BUDGET_LIMITS, BudgetLimit, remainingOf, Spend, ZERO_SPEND } from '@app/shared';

/**
 * What a task's session is expected to spend, before it starts: the routed agent's recent spend per
 * run scaled by the task's complexity relative to the complexity that agent usually gets, or, for an
 * agent without history, the documented priors.
 *
 *   history: cost    = agent's mean cost per recent run   × complexity / agent's mean complexity
 *            minutes = agent's median minutes per run     × complexity / agent's mean complexity
 *   prior:   cost    = TASK_COST_PRIOR_USD (PLAN_TASK_COST_PRIOR_USD) × complexity
 *            minutes = the task's own estimateMinutes
 *   tokens (both) = cost / FORECAST_USD_PER_TOKEN (the agent figures hold no token counts)
 *
 * The agent's mean complexity is that of its recent plan tasks; DEFAULT_MEAN_COMPLEXITY (the middle
 * of the 1-10 scale, and a task's default) when it ran none.
 */
export interface AgentRunHistory {
  agentId: string;
  /** Its counted recent runs; 0: no history, the priors apply. */
  runs: number;
  /** Mean cost of its recent runs; null without runs. */
  costUsdPerRun: number | null;
  /** Median running time of its recent runs, minutes; null without runs. */
  minutesPerRun: number | null;
  /** Mean complexity (1-10) of the plan tasks it ran recently; null when none. */
  meanComplexity: number | null;
}

export interface ForecastPriors {
  /** USD per complexity point (AppConfig.capacity.taskCostPriorUsd). */
  costUsdPerComplexity: number;
}

export interface TaskForecast extends Spend {
  basis: 'HISTORY' | 'PRIOR';
  /** The agent routing would give the task now; null when none is eligible (priors then). */
  agentId: string | null;
}

/** $6 per million tokens: a blended price of a mid-size model with most tokens read, few written. */
export const FORECAST_USD_PER_TOKEN = 0.000006;
export const DEFAULT_MEAN_COMPLEXITY = 5;

export function forecastTask(task: { complexity: number; estimateMinutes: number }, history: AgentRunHistory | null, priors: ForecastPriors): TaskForecast {
  if (history && history.runs > 0 && history.costUsdPerRun !== null) {
    const scale = task.complexity / (history.meanComplexity && history.meanComplexity > 0 ? history.meanComplexity : DEFAULT_MEAN_COMPLEXITY);
    const costUsd = history.costUsdPerRun * scale;
    return {
      basis: 'HISTORY',
      agentId: history.agentId,
      costUsd,
      tokens: Math.round(costUsd / FORECAST_USD_PER_TOKEN),
      minutes: history.minutesPerRun === null ? task.estimateMinutes : history.minutesPerRun * scale,
    };
  }
  const costUsd = priors.costUsdPerComplexity * task.complexity;
  return { basis: 'PRIOR', agentId: history?.agentId ?? null, costUsd, tokens: Math.round(costUsd / FORECAST_USD_PER_TOKEN), minutes: task.estimateMinutes };
}

export function sumForecasts(forecasts: readonly Spend[]): Spend {
  return forecasts.reduce<Spend>((sum, f) => addSpend(sum, { tokens: f.tokens, costUsd: f.costUsd, minutes: f.minutes }), { ...ZERO_SPEND });
}

const SPEND_OF: Record<BudgetLimit, keyof Spend> = { maxTokens: 'tokens', maxCostUsd: 'costUsd', maxMinutes: 'minutes' };

export interface BudgetShortfall {
  limit: BudgetLimit;
  /** The forecast in that limit's unit. */
  forecast: number;
  /** What is left of that limit (budget − spent − committed), never below 0. */
  left: number;
}

/**
 * The first set limit the forecast does not fit into, or null when it fits every one. `committed`:
 * forecasts of sessions started but not yet counted in `spent` (started in the same tick). A limit
 * used up entirely never fits, even a forecast of 0: a spent budget starts nothing.
 */
export function budgetShortfall(budget: Budget | null, spent: Spend, committed: Spend, forecast: Spend): BudgetShortfall | null {
  const left = remainingOf(budget, addSpend(spent, committed));
  if (!left) return null;
  for (const limit of BUDGET_LIMITS) {
    const rest = left[limit];
    if (rest === undefined) continue;
    const need = forecast[SPEND_OF[limit]];
    if (rest <= 0 || need > rest) return { limit, forecast: need, left: rest };
  }
  return null;
}

const UNIT: Record<BudgetLimit, (n: number) => string> = {
  maxTokens: (n) => `${Math.round(n)} tokens`,
  maxCostUsd: (n) => `$${n.toPrecision(3)}`,
  maxMinutes: (n) => `${n.toPrecision(3)} minutes`,
};

/** "task X's forecast ($0.150) does not fit what is left of maxCostUsd ($0.0100)". */
export function shortfallMessage(taskKey: string, shortfall: BudgetShortfall): string {
  const u = UNIT[shortfall.limit];
  return `task ${taskKey}'s forecast (${u(shortfall.forecast)}) does not fit what is left of the plan's ${shortfall.limit} (${u(shortfall.left)}): raise the budget (PATCH) and run the plan again`;
}

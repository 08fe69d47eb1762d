import { budgetShortfall, FORECAST_USD_PER_TOKEN, forecastTask, shortfallMessage, sumForecasts } from './budget-forecast';

const priors = { costUsdPerComplexity: 0.05 };
const zero = { tokens: 0, costUsd: 0, minutes: 0 };

describe('forecastTask', () => {
  it("scales the agent's recent cost and minutes per run by the task's complexity over the agent's mean", () => {
    const f = forecastTask({ complexity: 6, estimateMinutes: 30 }, { agentId: 'a', runs: 10, costUsdPerRun: 0.2, minutesPerRun: 4, meanComplexity: 3 }, priors);
    expect(f).toMatchObject({ basis: 'HISTORY', agentId: 'a', minutes: 8 });
    expect(f.costUsd).toBeCloseTo(0.4);
    expect(f.tokens).toBe(Math.round(0.4 / FORECAST_USD_PER_TOKEN));
  });

  it('takes the middle of the scale (5) when the agent ran no plan task, and the estimate when it has no durations', () => {
    const f = forecastTask({ complexity: 10, estimateMinutes: 30 }, { agentId: 'a', runs: 2, costUsdPerRun: 0.1, minutesPerRun: null, meanComplexity: null }, priors);
    expect(f.costUsd).toBeCloseTo(0.2);
    expect(f.minutes).toBe(30);
  });

  it('uses the priors without history: PLAN_TASK_COST_PRIOR_USD per complexity point, the task estimate, tokens from the cost', () => {
    for (const history of [null, { agentId: 'new', runs: 0, costUsdPerRun: null, minutesPerRun: null, meanComplexity: null }]) {
      const f = forecastTask({ complexity: 4, estimateMinutes: 12 }, history, priors);
      expect(f).toMatchObject({ basis: 'PRIOR', minutes: 12, tokens: Math.round(0.2 / FORECAST_USD_PER_TOKEN) });
      expect(f.costUsd).toBeCloseTo(0.2);
    }
  });

  it('sums forecasts', () => {
    expect(sumForecasts([{ tokens: 1, costUsd: 0.5, minutes: 2 }, { tokens: 2, costUsd: 0.25, minutes: 1 }])).toEqual({ tokens: 3, costUsd: 0.75, minutes: 3 });
    expect(sumForecasts([])).toEqual(zero);
  });
});

describe('budgetShortfall', () => {
  it('fits without a budget, and when every set limit has room for the forecast', () => {
    expect(budgetShortfall(null, { tokens: 1e9, costUsd: 1e6, minutes: 1e6 }, zero, { tokens: 1e9, costUsd: 1e6, minutes: 1e6 })).toBeNull();
    expect(budgetShortfall({ maxCostUsd: 1, maxMinutes: 60 }, { tokens: 0, costUsd: 0.5, minutes: 10 }, zero, { tokens: 1e9, costUsd: 0.5, minutes: 50 })).toBeNull();
  });

  it('names the first limit whose rest (budget − spent − committed) the forecast exceeds', () => {
    expect(budgetShortfall({ maxCostUsd: 1 }, { tokens: 0, costUsd: 0.6, minutes: 0 }, { tokens: 0, costUsd: 0.2, minutes: 0 }, { tokens: 0, costUsd: 0.3, minutes: 0 })).toEqual({
      limit: 'maxCostUsd',
      forecast: 0.3,
      left: expect.closeTo(0.2),
    });
    expect(budgetShortfall({ maxTokens: 100, maxMinutes: 5 }, zero, zero, { tokens: 50, costUsd: 0, minutes: 6 })).toEqual({ limit: 'maxMinutes', forecast: 6, left: 5 });
  });

  it('starts nothing once a limit is used up, even a forecast of 0', () => {
    expect(budgetShortfall({ maxTokens: 100 }, { tokens: 120, costUsd: 0, minutes: 0 }, zero, zero)).toEqual({ limit: 'maxTokens', forecast: 0, left: 0 });
  });

  it('says which task did not fit, and what is left', () => {
    expect(shortfallMessage('implA', { limit: 'maxCostUsd', forecast: 0.15, left: 0.01 })).toMatch(/^task implA's forecast \(\$0\.150\) does not fit what is left of the plan's maxCostUsd \(\$0\.0100\)/);
  });
});

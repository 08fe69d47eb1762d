import { ZERO_SPEND } from '@app/shared';
import type { Spend } from '@app/shared';
import { crossedEvents, judgeOpening, judgeSpending, shareLeft, type BudgetStanding } from './budget-check';

const cost = (costUsd: number): Spend => ({ ...ZERO_SPEND, costUsd });
const plan = (before: number, after: number, maxCostUsd = 0.5): BudgetStanding => ({
  scope: 'PLAN',
  scopeId: '1234abcd-0000-4000-8000-000000000000',
  budget: { maxCostUsd },
  before: cost(before),
  after: cost(after),
});

describe('judging budgets', () => {
  it('reports a budget reached, with a message naming scope, limit, budget and spending', () => {
    const check = judgeSpending([plan(0.45, 0.51)]);
    expect(check.exceeded).toMatchObject({ scope: 'PLAN', limit: 'maxCostUsd', spent: cost(0.51), budget: { maxCostUsd: 0.5 } });
    expect(check.exceeded!.message).toBe('plan 1234abcd… budget maxCostUsd 0.50 USD reached (0.51 USD spent)');
    expect(check.warnings).toEqual([]);
    // Still reached on the next update: the run must not go on.
    expect(judgeSpending([plan(0.51, 0.51)]).exceeded).not.toBeNull();
  });

  it('reports a warning once, on the update that crosses 80%', () => {
    const crossing = judgeSpending([plan(0.3, 0.42)]);
    expect(crossing.exceeded).toBeNull();
    expect(crossing.warnings).toEqual([
      expect.objectContaining({ scope: 'PLAN', limit: 'maxCostUsd', ratio: expect.closeTo(0.84), message: 'plan 1234abcd… budget maxCostUsd 84% used (0.42 USD of 0.50 USD)' }),
    ]);
    expect(judgeSpending([plan(0.42, 0.45)]).warnings).toEqual([]);
    expect(judgeSpending([plan(0.1, 0.2)]).warnings).toEqual([]);
  });

  it('names daily budgets, units of every limit, and picks the most used limit', () => {
    const check = judgeSpending([
      { scope: 'AGENT', scopeId: 'agent-1', budget: { maxTokens: 1000, maxCostUsd: 10 }, before: ZERO_SPEND, after: { tokens: 1200, costUsd: 1, minutes: 0 } },
      { scope: 'KEY', scopeId: 'k', budget: { maxMinutes: 10 }, before: ZERO_SPEND, after: { tokens: 0, costUsd: 0, minutes: 8.5 } },
    ]);
    expect(check.exceeded!.message).toBe('agent agent-1 daily budget maxTokens 1000 tokens reached (1200 tokens spent)');
    expect(check.warnings.map((w) => w.message)).toEqual(['key k daily budget maxMinutes 85% used (8.5 minutes of 10.0 minutes)']);
  });

  it('reports the first breach in scope order and ignores scopes without a budget', () => {
    const check = judgeSpending([
      plan(0, 1),
      { scope: 'SESSION', scopeId: 's', budget: { maxTokens: 10 }, before: ZERO_SPEND, after: { tokens: 10, costUsd: 0, minutes: 0 } },
      { scope: 'KEY', scopeId: 'k', budget: null, before: ZERO_SPEND, after: cost(99) },
    ]);
    expect(check.exceeded).toMatchObject({ scope: 'SESSION', scopeId: 's' });
    expect(judgeSpending([{ scope: 'KEY', scopeId: 'k', budget: null, before: ZERO_SPEND, after: cost(99) }])).toEqual({ exceeded: null, warnings: [] });
  });

  it('at opening, reports every budget already past 80% or reached', () => {
    const { before: _, ...standing } = plan(0, 0.45);
    expect(judgeOpening([standing]).warnings).toHaveLength(1);
    expect(judgeOpening([{ ...standing, after: cost(0.5) }]).exceeded).not.toBeNull();
    expect(judgeOpening([{ ...standing, after: cost(0.1) }])).toEqual({ exceeded: null, warnings: [] });
  });

  it('counts the thresholds an update crossed, a jump past both counting both', () => {
    expect(crossedEvents(plan(0.3, 0.42))).toEqual(['warning']);
    expect(crossedEvents(plan(0.42, 0.5))).toEqual(['exceeded']);
    expect(crossedEvents(plan(0.1, 0.6))).toEqual(['warning', 'exceeded']);
    expect(crossedEvents(plan(0.6, 0.7))).toEqual([]);
  });

  it('gives the share left of every limit set, between 0 and 1', () => {
    expect(shareLeft({ maxTokens: 100, maxMinutes: 10 }, { tokens: 25, costUsd: 3, minutes: 20 })).toEqual([
      { limit: 'maxTokens', share: 0.75 },
      { limit: 'maxMinutes', share: 0 },
    ]);
  });
});

import { ZERO_USAGE } from '@app/shared';
import { inMemorySpending, ManualSpendingClock } from '../testing';
import type { RunScopes } from './spending.service';

const usage = (tokens: number, costUsd: number) => ({ ...ZERO_USAGE, outputTokens: tokens, costUsd });
const scopes = (over: Partial<RunScopes> = {}): RunScopes => ({
  sessionId: 'session-1',
  attempt: 1,
  sessionBudget: null,
  planId: 'plan-1',
  agentId: 'agent-1',
  keyId: 'key-1',
  agentName: 'coder',
  role: 'IMPLEMENTER',
  model: 'provider/model',
  ...over,
});

describe('SpendingService', () => {
  it('adds only the increase of cumulative reports, to every scope of the run, and counts it once', async () => {
    const { service, metrics } = inMemorySpending(new ManualSpendingClock().read);
    const tracker = await service.openRun(scopes());
    expect(tracker.opening).toEqual({ exceeded: null, warnings: [] });
    await tracker.update(usage(100, 0.2), 60_000);
    await tracker.update(usage(100, 0.2), 60_000);
    await tracker.update(usage(150, 0.3), 120_000);
    const resumed = await service.openRun(scopes());
    await resumed.update(usage(150, 0.3), 120_000);

    for (const [scope, id] of [['SESSION', 'session-1'], ['PLAN', 'plan-1'], ['AGENT', 'agent-1'], ['KEY', 'key-1']] as const) {
      const spent = (await service.spentBy(scope, [id])).get(id)!;
      expect(spent.tokens).toBe(150);
      expect(spent.costUsd).toBeCloseTo(0.3);
      expect(spent.minutes).toBe(2);
    }
    expect(metrics.spending.map((s) => s.increase.tokens)).toEqual([100, 50]);
    expect(metrics.spending[0]!.labels).toEqual({ agent: 'coder', role: 'IMPLEMENTER', model: 'provider/model', key: 'key-1', plan: 'plan-1' });
  });

  it('judges the session budget on the attempt own total, and refuses to open a run whose budget is used up', async () => {
    const { service } = inMemorySpending();
    const first = await service.openRun(scopes({ sessionBudget: { maxTokens: 100 } }));
    expect((await first.update(usage(85, 0), 0)).warnings.map((w) => w.scope)).toEqual(['SESSION']);
    // A new attempt starts from its own zero, although the session's ledger row has 85.
    const second = await service.openRun(scopes({ attempt: 2, sessionBudget: { maxTokens: 100 } }));
    expect(second.opening.warnings).toEqual([]);
    expect((await second.update(usage(50, 0), 0)).exceeded).toBeNull();
    expect((await first.update(usage(100, 0), 0)).exceeded).toMatchObject({ scope: 'SESSION', limit: 'maxTokens' });
    expect((await service.openRun(scopes({ sessionBudget: { maxTokens: 100 } }))).opening.exceeded).toMatchObject({ scope: 'SESSION' });
  });

  it('judges stored budgets against the ledger rows, warning once and reporting each crossing as a metric', async () => {
    const { service, metrics } = inMemorySpending();
    await service.setLimit('AGENT', 'agent-1', { maxCostUsd: 1 });
    await service.setLimit('PLAN', 'plan-1', { maxCostUsd: 100, maxTokens: undefined });
    const a = await service.openRun(scopes({ sessionId: 'a' }));
    const b = await service.openRun(scopes({ sessionId: 'b', planId: null, keyId: null }));
    expect((await a.update(usage(1, 0.5), 0)).warnings).toEqual([]);
    const crossing = await b.update(usage(1, 0.35), 0);
    expect(crossing.warnings).toEqual([expect.objectContaining({ scope: 'AGENT', scopeId: 'agent-1', limit: 'maxCostUsd' })]);
    expect((await a.update(usage(1, 0.55), 0)).warnings).toEqual([]);
    const breach = await b.update(usage(1, 0.5), 0);
    expect(breach.exceeded).toMatchObject({ scope: 'AGENT', message: 'agent agent-1 daily budget maxCostUsd 1.00 USD reached (1.05 USD spent)' });
    expect(metrics.events).toEqual([
      { scope: 'AGENT', event: 'warning' },
      { scope: 'AGENT', event: 'exceeded' },
    ]);
    expect(metrics.left.filter((l) => l.scope === 'AGENT').at(-1)).toEqual({ scope: 'AGENT', scopeId: 'agent-1', limit: 'maxCostUsd', share: 0 });
    // Deleting the limit lifts it for the next update.
    await service.setLimit('AGENT', 'agent-1', null);
    expect((await b.update(usage(2, 0.6), 0)).exceeded).toBeNull();
  });

  it('counts an increase on the UTC day it is recorded, and reads other days on request', async () => {
    const clock = new ManualSpendingClock(new Date('2026-01-15T23:59:00Z'));
    const { service } = inMemorySpending(clock.read);
    const tracker = await service.openRun(scopes());
    await tracker.update(usage(10, 0.1), 0);
    clock.advance(120_000);
    await tracker.update(usage(25, 0.1), 0);
    expect((await service.spentBy('AGENT', ['agent-1', 'other'])).get('agent-1')!.tokens).toBe(15);
    expect((await service.spentBy('AGENT', ['agent-1'], '2026-01-15')).get('agent-1')!.tokens).toBe(10);
    expect((await service.spentBy('AGENT', ['other'])).get('other')).toEqual({ tokens: 0, costUsd: 0, minutes: 0 });
    expect((await service.spentBy('PLAN', ['plan-1'], '2026-01-15')).get('plan-1')!.tokens).toBe(25);
    await expect(service.spentBy('KEY', ['key-1'], '15/01/2026')).rejects.toThrow(RangeError);
  });

  it('applies concurrent updates of one tracker in order', async () => {
    const { service, metrics } = inMemorySpending();
    const tracker = await service.openRun(scopes());
    await Promise.all([tracker.update(usage(10, 0), 0), tracker.update(usage(20, 0), 0), tracker.update(usage(30, 0), 0)]);
    expect(metrics.spending.map((s) => s.increase.tokens)).toEqual([10, 10, 10]);
  });
});

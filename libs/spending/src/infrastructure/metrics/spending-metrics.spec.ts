import { Metrics } from '@app/observability';
import { SpendingMetrics } from './spending-metrics';

describe('SpendingMetrics', () => {
  it('counts spending with none for what is missing, and scopes in lower case', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const adapter = new SpendingMetrics(metrics);
    const labels = { agent: null, role: null, model: 'm/x', key: 'k1', plan: null };
    adapter.spent(labels, { tokens: 120, costUsd: 0.25, minutes: 1 });
    adapter.spent(labels, { tokens: 30, costUsd: 0, minutes: 1 });
    adapter.budgetLeft('PLAN', 'p1', 'maxCostUsd', 0.4);
    adapter.budgetEvent('AGENT', 'warning');

    expect((await metrics.spendTokens.get()).values).toEqual([
      { labels: { agent: 'none', role: 'none', model: 'm/x', key: 'k1', plan: 'none' }, value: 150 },
    ]);
    expect((await metrics.spendUsd.get()).values.map((v) => v.value)).toEqual([0.25]);
    expect((await metrics.budgetRemaining.get()).values).toEqual([{ labels: { scope: 'plan', id: 'p1', limit: 'maxCostUsd' }, value: 0.4 }]);
    expect((await metrics.budgetEvents.get()).values).toEqual([{ labels: { scope: 'agent', event: 'warning' }, value: 1 }]);
  });

  it('does nothing in a process without Metrics', () => {
    const adapter = new SpendingMetrics();
    expect(() => {
      adapter.spent({ agent: 'a', role: 'r', model: 'm', key: 'k', plan: 'p' }, { tokens: 1, costUsd: 1, minutes: 0 });
      adapter.budgetLeft('KEY', 'k', 'maxTokens', 1);
      adapter.budgetEvent('SESSION', 'exceeded');
    }).not.toThrow();
  });
});

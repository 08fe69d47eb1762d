import { Metrics } from '@app/observability';
import { CapacityMetrics } from './capacity-metrics';

describe('CapacityMetrics', () => {
  it('counts throttles by model and reason, rate limits and quota exhaustions by model', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const adapter = new CapacityMetrics(metrics);
    adapter.throttled('anthropic/claude', 'concurrency');
    adapter.throttled('anthropic/claude', 'concurrency');
    adapter.throttled('openai/gpt-5', 'cooldown');
    adapter.rateLimited('openai/gpt-5');
    adapter.quotaExhausted('openai/gpt-5');

    const throttled = (await metrics.sessionsThrottled.get()).values.map((v) => [v.labels.model, v.labels.reason, v.value]);
    expect(throttled).toEqual([
      ['anthropic/claude', 'concurrency', 2],
      ['openai/gpt-5', 'cooldown', 1],
    ]);
    expect((await metrics.providerRateLimits.get()).values).toEqual([expect.objectContaining({ labels: { model: 'openai/gpt-5' }, value: 1 })]);
    expect((await metrics.providerQuotaExhausted.get()).values).toEqual([expect.objectContaining({ labels: { model: 'openai/gpt-5' }, value: 1 })]);
  });

  it('does nothing in a process without Metrics', () => {
    const adapter = new CapacityMetrics();
    expect(() => {
      adapter.throttled('a/b', 'rpm');
      adapter.rateLimited('a/b');
      adapter.quotaExhausted('a/b');
    }).not.toThrow();
  });
});

import { Metrics } from '@app/observability';
import { ApprovalObservers } from '../../application/approval-observers';
import { ApprovalMetrics } from './approval-metrics';

describe('ApprovalMetrics', () => {
  it('exports every outcome from 0 and counts each decision the approval context reports', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const observers = new ApprovalObservers();
    const adapter = new ApprovalMetrics(observers, metrics);
    adapter.onModuleInit();
    const values = async () =>
      Object.fromEntries((await metrics.approvals.get()).values.map((v) => [v.labels.outcome as string, v.value]));
    expect(await values()).toEqual({ allowed: 0, denied: 0, expired: 0, cancelled: 0 });

    observers.decided({} as never, 'expired');
    observers.decided({} as never, 'allowed');
    observers.decided({} as never, 'expired');
    expect(await values()).toEqual({ allowed: 1, denied: 0, expired: 2, cancelled: 0 });

    adapter.onModuleDestroy();
    observers.decided({} as never, 'denied');
    expect((await values()).denied).toBe(0);
  });

  it('registers nothing in a process without Metrics', () => {
    const observers = new ApprovalObservers();
    const register = jest.spyOn(observers, 'register');
    const adapter = new ApprovalMetrics(observers);
    adapter.onModuleInit();
    adapter.onModuleDestroy();
    expect(register).not.toHaveBeenCalled();
  });
});

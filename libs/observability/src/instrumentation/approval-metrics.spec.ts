import { ApprovalObservers } from '@app/approval';
import { Metrics } from '../metrics';
import { ApprovalMetrics } from './approval-metrics';

describe('ApprovalMetrics', () => {
  it('exports every outcome from 0 and counts each decision the approval context reports', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const observers = new ApprovalObservers();
    const instrumentation = new ApprovalMetrics(metrics, observers);
    instrumentation.onModuleInit();
    const values = async () =>
      Object.fromEntries((await metrics.approvals.get()).values.map((v) => [v.labels.outcome as string, v.value]));
    expect(await values()).toEqual({ allowed: 0, denied: 0, expired: 0, cancelled: 0 });

    observers.decided({} as never, 'expired');
    observers.decided({} as never, 'allowed');
    observers.decided({} as never, 'expired');
    expect(await values()).toEqual({ allowed: 1, denied: 0, expired: 2, cancelled: 0 });

    instrumentation.onModuleDestroy();
    observers.decided({} as never, 'denied');
    expect((await values()).denied).toBe(0);
  });
});

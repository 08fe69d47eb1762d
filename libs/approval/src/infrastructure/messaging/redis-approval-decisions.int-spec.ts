import Redis from 'ioredis';
import { waitFor } from '@app/testing';
import { testConfig } from '../../../../../test/support/database';
import { connectTestRedis } from '../../../../../test/support/redis';
import { RedisApprovalDecisions } from './redis-approval-decisions';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

/** Two "processes" (each its own adapter and command connection) on one real Redis. */
describe('RedisApprovalDecisions (real Redis)', () => {
  const config = testConfig();
  const connections: Redis[] = [];
  const adapters: RedisApprovalDecisions[] = [];
  const process_ = () => {
    const redis = connectTestRedis({ maxRetriesPerRequest: null });
    connections.push(redis);
    const adapter = new RedisApprovalDecisions(redis, config);
    adapters.push(adapter);
    return adapter;
  };

  afterAll(async () => {
    await Promise.all(adapters.map((a) => a.onApplicationShutdown()));
    await Promise.all(connections.map((c) => c.quit()));
  });

  it('tells the listeners of an approval in another process, and only them, until they stop', async () => {
    const worker = process_();
    const api = process_();
    const heardA: number[] = [];
    const heardB: number[] = [];
    const stopA = await worker.subscribe(A, () => heardA.push(1));
    await worker.subscribe(B, () => heardB.push(1));

    await api.publish(A);
    await waitFor(async () => heardA.length, (n) => n === 1, { timeoutMs: 5_000, intervalMs: 10, what: 'the decision of A' });
    expect(heardB).toEqual([]);

    stopA();
    await api.publish(A);
    await api.publish(B);
    await waitFor(async () => heardB.length, (n) => n === 1, { timeoutMs: 5_000, intervalMs: 10, what: 'the decision of B' });
    expect(heardA).toEqual([1]);
  });
});

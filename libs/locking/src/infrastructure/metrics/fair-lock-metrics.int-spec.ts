import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { METRIC, Metrics } from '@app/observability';
import { waitFor } from '@app/testing';
import Redis from 'ioredis';
import { connectTestRedis } from '../../../../../test/support/redis';
import { testQueuePrefix } from '../../../../../test/support/test-file';
import { LockError, LockErrorCode } from '../../domain/lock.errors';
import { RedisFairLock } from '../redis-fair-lock/redis-fair-lock';
import { FairLockMetrics } from './fair-lock-metrics';
import { scrapeSamples as samples } from '@app/observability/testing';

/** The fair lock's observer, wired to Metrics as LockingModule wires it, against the real Redis. */
const PREFIX = testQueuePrefix();
const connections: Redis[] = [];
const locks: RedisFairLock[] = [];

function connect(): Redis {
  const redis = connectTestRedis({ maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  connections.push(redis);
  return redis;
}

function makeLock(metrics: Metrics, namespace: string): RedisFairLock {
  const lock = new RedisFairLock(connect(), connect(), {
    prefix: PREFIX,
    namespace,
    recheckMs: 50,
    deadlockCheckMs: 100,
    observer: new FairLockMetrics(metrics),
  });
  locks.push(lock);
  return lock;
}


const waits = (values: Map<string, number>, kind: string, outcome: string) =>
  values.get(`${METRIC.lockWait}_count{kind="${kind}",outcome="${outcome}"}`);

describe('lock metrics from the fair lock (real Redis)', () => {
  const admin = connect();
  let metrics: Metrics;
  let lock: RedisFairLock;
  let other: RedisFairLock;

  beforeAll(() => Logger.overrideLogger(['error'])); // lost leases are warned about, on purpose here

  beforeEach(() => {
    metrics = new Metrics({ defaultMetrics: false });
    const namespace = `ns-${Math.random().toString(36).slice(2, 8)}`;
    lock = makeLock(metrics, namespace);
    other = makeLock(metrics, namespace);
  });

  afterAll(async () => {
    await Promise.all(locks.map((l) => l.close()));
    const keys = await admin.keys(`${PREFIX}:*`);
    if (keys.length) await admin.del(...keys);
    await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
  });

  it('records a free lock as granted without contention, and a queued one as contended with its wait', async () => {
    const first = await lock.acquire('session:s1', { owner: 'a', ttlMs: 5000, waitTimeoutMs: 1000 });
    const waiting = other.acquire('session:s1', { owner: 'b', ttlMs: 5000, waitTimeoutMs: 5000 });
    await sleep(200);
    await lock.release(first);
    await other.release(await waiting);

    const values = await samples(metrics);
    expect(waits(values, 'session', 'granted')).toBe(2);
    expect(values.get(`${METRIC.lockWait}_sum{kind="session",outcome="granted"}`)).toBeGreaterThanOrEqual(0.19);
    expect(values.get(`${METRIC.lockContention}{kind="session"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="workspace"}`)).toBe(0);
  });

  it('records timeouts, aborts and deadlock victims by outcome', async () => {
    const held = await lock.acquire('workspace:/w', { owner: 'a', ttlMs: 5000, waitTimeoutMs: 0 });
    await expect(other.acquire('workspace:/w', { owner: 'b', ttlMs: 5000, waitTimeoutMs: 0 })).rejects.toThrow(LockError);
    await expect(other.acquire('workspace:/w', { owner: 'b', ttlMs: 5000, waitTimeoutMs: 100 })).rejects.toThrow(LockError);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('cancelled')), 100);
    await expect(other.acquire('workspace:/w', { owner: 'c', ttlMs: 5000, waitTimeoutMs: 5000, signal: abort.signal })).rejects.toThrow(
      LockError,
    );
    await lock.release(held);

    // o1 holds x:1 and wants x:2; o2 holds x:2 and wants x:1: the younger waiter is the victim.
    const l1 = await lock.acquire('x:1', { owner: 'o1', ttlMs: 5000, waitTimeoutMs: 0 });
    const l2 = await other.acquire('x:2', { owner: 'o2', ttlMs: 5000, waitTimeoutMs: 0 });
    const w1 = lock.acquire('x:2', { owner: 'o1', ttlMs: 5000, waitTimeoutMs: 5000 }).then((l) => l, (e: LockError) => e);
    await sleep(50);
    const w2 = other.acquire('x:1', { owner: 'o2', ttlMs: 5000, waitTimeoutMs: 5000 }).then((l) => l, (e: LockError) => e);
    const victim = await w2;
    expect(victim).toBeInstanceOf(LockError);
    expect((victim as LockError).code).toBe(LockErrorCode.LOCK_DEADLOCK);
    await other.release(l2);
    const granted = await w1;
    if (granted instanceof LockError) throw granted;
    await lock.release(granted);
    await lock.release(l1);

    const values = await samples(metrics);
    expect(waits(values, 'workspace', 'timeout')).toBe(2);
    expect(waits(values, 'workspace', 'aborted')).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="workspace"}`)).toBe(3);
    expect(waits(values, 'other', 'deadlock')).toBe(1);
    expect(values.get(METRIC.lockDeadlocks)).toBe(1);
  });

  it('counts a lease lost before release by kind, but not a takeover by its own owner', async () => {
    const lease = await lock.acquire('workspace:/lost', { owner: 'a', ttlMs: 300, waitTimeoutMs: 0 });
    await admin.del(`${lock.ns}:l:workspace:/lost`); // as if Redis had lost it
    await waitFor(async () => lease.signal.aborted, Boolean, { timeoutMs: 5000, what: 'the lease to be found lost' });

    const mine = await lock.acquire('session:taken', { owner: 'run-1', ttlMs: 300, waitTimeoutMs: 0 });
    const resumed = await other.acquire('session:taken', { owner: 'run-1', ttlMs: 5000, waitTimeoutMs: 0, reclaim: true });
    await waitFor(async () => mine.signal.aborted, Boolean, { timeoutMs: 5000, what: 'the old lease to be taken over' });
    expect(LockError.isTakeover(mine.signal.reason)).toBe(true);
    await other.release(resumed);

    const values = await samples(metrics);
    expect(values.get(`${METRIC.lockLost}{kind="workspace"}`)).toBe(1);
    expect(values.get(`${METRIC.lockLost}{kind="session"}`)).toBe(0);
  });
});

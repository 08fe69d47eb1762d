import Redis from 'ioredis';
import { LockError, LockErrorCode } from '../domain/lock.errors';
import { RedisSimpleLockAdapter } from './redis-simple-lock.adapter';

describe('RedisSimpleLockAdapter (real Redis)', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  const prefix = `lock-int-${process.pid}-${Date.now()}`;
  const locks = new RedisSimpleLockAdapter(redis, prefix, 5);

  afterAll(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('grants one holder at a time; the others time out with LOCK_TIMEOUT', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => locks.acquire('r1', { owner: `c${i}`, ttlMs: 5_000, waitTimeoutMs: 50 })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused).toHaveLength(9);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(LockError);
      expect(r.reason.code).toBe(LockErrorCode.LOCK_TIMEOUT);
    }
  });

  it('hands the lock to a waiter after release', async () => {
    const first = await locks.acquire('r2', { owner: 'a', ttlMs: 5_000, waitTimeoutMs: 0 });
    const waiting = locks.acquire('r2', { owner: 'b', ttlMs: 5_000, waitTimeoutMs: 2_000 });
    setTimeout(() => void locks.release(first), 50);
    expect((await waiting).owner).toBe('b');
  });

  it('refuses a release by a non-owner or of a stale lease', async () => {
    const lease = await locks.acquire('r3', { owner: 'a', ttlMs: 5_000, waitTimeoutMs: 0 });
    expect(await locks.release({ ...lease, token: 'forged' })).toBe(false);
    expect(await redis.exists(`${prefix}:lock:r3`)).toBe(1);
    expect(await locks.release(lease)).toBe(true);
    expect(await locks.release(lease)).toBe(false);
  });

  it('expires a lease whose holder vanished after its TTL', async () => {
    await locks.acquire('r4', { owner: 'gone', ttlMs: 100, waitTimeoutMs: 0 });
    const next = await locks.acquire('r4', { owner: 'next', ttlMs: 5_000, waitTimeoutMs: 1_000 });
    expect(next.owner).toBe('next');
  });
});

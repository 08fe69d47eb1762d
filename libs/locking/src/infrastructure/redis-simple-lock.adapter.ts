import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import { AcquireOptions, Lease, LockPort } from '../application/ports/lock.port';
import { LockError } from '../domain/lock.errors';

const RELEASE_IF_OWNER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * The simple lock: SET NX PX with an owner-checked release, retried at a short
 * interval until the wait timeout. Not fair under contention; the fair lock queue
 * replaces this adapter behind the same port.
 */
export class RedisSimpleLockAdapter implements LockPort {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly retryIntervalMs = 25,
  ) {}

  async acquire(resource: string, options: AcquireOptions): Promise<Lease> {
    const token = `${options.owner}:${randomUUID()}`;
    const key = this.key(resource);
    const deadline = Date.now() + options.waitTimeoutMs;
    for (;;) {
      const granted = await this.redis.set(key, token, 'PX', options.ttlMs, 'NX');
      if (granted === 'OK') return { resource, owner: options.owner, token };
      if (Date.now() >= deadline) throw LockError.timeout(resource, options.waitTimeoutMs);
      await sleep(Math.min(this.retryIntervalMs, Math.max(1, deadline - Date.now())));
    }
  }

  async release(lease: Lease): Promise<boolean> {
    const deleted = await this.redis.eval(RELEASE_IF_OWNER, 1, this.key(lease.resource), lease.token);
    return deleted === 1;
  }

  private key(resource: string): string {
    return `${this.keyPrefix}:lock:${resource}`;
  }
}

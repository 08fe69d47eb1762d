import { randomUUID } from 'node:crypto';
import { assertRedisReachable } from '@app/platform';
import type Redis from 'ioredis';
import type { AcquireRequest, AcquireResult, CapacityStorePort, MarkRequest } from '../../application/ports/capacity-store.port';
import type { ModelMark, ModelMarkKind } from '../../domain/capacity';
import { ACQUIRE, COUNT_RATE_LIMIT, MARK, RENEW } from './capacity.scripts';

type Reply = [string, ...(string | number)[]];

interface CapacityCommands {
  capacityAcquire(numberOfKeys: number, ...args: (string | number)[]): Promise<Reply>;
  capacityRenew(numberOfKeys: number, ...args: (string | number)[]): Promise<number>;
  capacityMark(...args: (string | number)[]): Promise<string>;
  capacityCountRateLimit(...args: (string | number)[]): Promise<number>;
}

/** The results of a pipeline or transaction; throws its first error. */
function replies(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('The Redis transaction was aborted');
  const failed = results.find(([err]) => err);
  if (failed) throw failed[0];
  return results.map(([, value]) => value);
}

interface StoredMark {
  until: number;
  why: string;
  kind: ModelMarkKind;
}

/** Concurrency slots and model marks in Redis (see capacity.scripts.ts for the keys). */
export class RedisCapacityStore implements CapacityStorePort {
  private readonly redis: Redis & CapacityCommands;
  private readonly ns: string;

  constructor(redis: Redis, prefix: string) {
    this.ns = `${prefix}:capacity`;
    redis.defineCommand('capacityAcquire', { lua: ACQUIRE });
    redis.defineCommand('capacityRenew', { lua: RENEW });
    redis.defineCommand('capacityMark', { numberOfKeys: 2, lua: MARK });
    redis.defineCommand('capacityCountRateLimit', { numberOfKeys: 1, lua: COUNT_RATE_LIMIT });
    this.redis = redis as Redis & CapacityCommands;
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult> {
    const { sessionId, model, buckets, holdMs, waitMs } = request;
    const keys = [this.markKey(model), ...buckets.map((b) => this.holdersKey(b.pattern)), ...buckets.map((b) => this.waitersKey(b.pattern))];
    const reply = await this.redis.capacityAcquire(keys.length, ...keys, sessionId, holdMs, waitMs, ...buckets.map((b) => b.limit));
    switch (reply[0]) {
      case 'm':
        return { outcome: 'marked', mark: this.parseMark(model, String(reply[1])) };
      case 'f': {
        const bucket = buckets[Number(reply[1]) - 1];
        return { outcome: 'full', pattern: bucket.pattern, limit: bucket.limit, inUse: Number(reply[2]), waiting: Number(reply[3]) };
      }
      default:
        return { outcome: 'granted', already: Number(reply[1]) === 1 };
    }
  }

  async renew(sessionId: string, patterns: string[], holdMs: number): Promise<void> {
    const keys = patterns.map((p) => this.holdersKey(p));
    await this.redis.capacityRenew(keys.length, ...keys, sessionId, holdMs);
  }

  async release(sessionId: string, patterns: string[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const pattern of patterns) pipeline.zrem(this.holdersKey(pattern), sessionId);
    replies(await pipeline.exec());
  }

  async mark(request: MarkRequest): Promise<ModelMark> {
    const { model, kind, until, why } = request;
    const json = JSON.stringify({ until: until.getTime(), why, kind } satisfies StoredMark);
    const inForce = await this.redis.capacityMark(this.markKey(model), `${this.ns}:marks`, json, until.getTime(), model);
    return this.parseMark(model, inForce);
  }

  countRateLimit(model: string, windowMs: number): Promise<number> {
    return this.redis.capacityCountRateLimit(`${this.ns}:429:${model}`, randomUUID(), windowMs);
  }

  async marksOf(models: string[]): Promise<ModelMark[]> {
    if (!models.length) return [];
    const values = await this.redis.mget(models.map((m) => this.markKey(m)));
    return models.flatMap((model, i) => (values[i] ? [this.parseMark(model, values[i] as string)] : []));
  }

  async marks(): Promise<ModelMark[]> {
    assertRedisReachable(this.redis, 'the model marks');
    const models = await this.redis.smembers(`${this.ns}:marks`);
    const marks = await this.marksOf(models);
    const gone = models.filter((m) => !marks.some((mark) => mark.model === m));
    if (gone.length) await this.redis.srem(`${this.ns}:marks`, ...gone);
    return marks;
  }

  async clearMark(model: string): Promise<boolean> {
    const [deleted] = replies(await this.redis.multi().del(this.markKey(model)).srem(`${this.ns}:marks`, model).exec());
    return deleted === 1;
  }

  async occupancy(patterns: string[]): Promise<Map<string, { holders: string[]; waiting: number }>> {
    assertRedisReachable(this.redis, 'the concurrency slots');
    const now = Date.now();
    const pipeline = this.redis.pipeline();
    for (const pattern of patterns) {
      pipeline.zrangebyscore(this.holdersKey(pattern), now, '+inf');
      pipeline.zcount(this.waitersKey(pattern), now, '+inf');
    }
    const results = replies(await pipeline.exec());
    return new Map(patterns.map((pattern, i) => [pattern, { holders: results[2 * i] as string[], waiting: Number(results[2 * i + 1]) }]));
  }

  private parseMark(model: string, json: string): ModelMark {
    const stored = JSON.parse(json) as StoredMark;
    return { model, kind: stored.kind, until: new Date(stored.until), why: stored.why };
  }

  private markKey(model: string): string {
    return `${this.ns}:mark:${model}`;
  }

  private holdersKey(pattern: string): string {
    return `${this.ns}:c:${pattern}`;
  }

  private waitersKey(pattern: string): string {
    return `${this.ns}:w:${pattern}`;
  }
}

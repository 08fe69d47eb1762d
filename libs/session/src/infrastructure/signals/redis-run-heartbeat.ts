import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { RunHeartbeatPort } from '../../application/ports/run-heartbeat.port';

/** One key per running session, `<prefix>:run:<id>`, with a TTL renewed by its worker. */
@Injectable()
export class RedisRunHeartbeat implements RunHeartbeatPort {
  private readonly prefix: string;

  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis, config: AppConfig) {
    this.prefix = `${config.queuePrefix}:run:`;
  }

  async beat(sessionIds: string[], ttlMs: number): Promise<void> {
    if (sessionIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of sessionIds) pipeline.set(this.prefix + id, '1', 'PX', ttlMs);
    await pipeline.exec();
  }

  async alive(sessionIds: string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const values = await this.redis.mget(...sessionIds.map((id) => this.prefix + id));
    return new Set(sessionIds.filter((_, i) => values[i] !== null));
  }
}

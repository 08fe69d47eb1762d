import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { createRedisConnection, REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { SessionSignalsPort } from '../../application/ports/session-signals.port';

/** Cancel requests travel over Redis pub/sub, so API and workers can live in different processes. */
@Injectable()
export class RedisSessionSignals implements SessionSignalsPort {
  private readonly channel: string;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly config: AppConfig,
  ) {
    this.channel = `${config.queuePrefix}:session-cancel`;
  }

  async requestCancel(sessionId: string): Promise<void> {
    await this.redis.publish(this.channel, sessionId);
  }

  async onCancelRequested(handler: (sessionId: string) => void): Promise<() => Promise<void>> {
    const subscriber = createRedisConnection(this.config, 'signals');
    subscriber.on('error', () => undefined); // reconnects by itself; the worker also polls the row
    subscriber.on('message', (channel, sessionId) => {
      if (channel === this.channel) handler(sessionId);
    });
    await subscriber.subscribe(this.channel);
    return async () => {
      await subscriber.quit().catch(() => subscriber.disconnect());
    };
  }
}

import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Metrics } from '@app/observability';
import { createRedisConnection, REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { LOCK_PORT } from './application/ports/lock.port';
import { LocksController } from './infrastructure/http/locks.controller';
import { FairLockMetrics } from './infrastructure/metrics/fair-lock-metrics';
import { RedisFairLock } from './infrastructure/redis-fair-lock/redis-fair-lock';

/** The connection on which a process's waiters hear about their grants (subscriber mode). */
const LOCK_SUBSCRIBER = Symbol('LOCK_SUBSCRIBER');

@Injectable()
class LockingShutdown implements OnApplicationShutdown {
  constructor(
    @Inject(LOCK_PORT) private readonly locks: RedisFairLock,
    @Inject(LOCK_SUBSCRIBER) private readonly subscriber: Redis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.locks.close();
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }
}

/** The fair Redis lock queue behind LOCK_PORT, and GET /api/v1/locks for operators. */
@Module({
  controllers: [LocksController],
  providers: [
    {
      provide: LOCK_SUBSCRIBER,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const subscriber = createRedisConnection(config, 'lock-grants');
        subscriber.on('error', () => undefined); // the command connection logs Redis outages
        return subscriber;
      },
    },
    {
      provide: LOCK_PORT,
      // Metrics (lock waits, contention, deadlocks, lost leases) when the process has them.
      inject: [REDIS_CLIENT, LOCK_SUBSCRIBER, AppConfig, { token: Metrics, optional: true }],
      useFactory: (redis: Redis, subscriber: Redis, config: AppConfig, metrics?: Metrics) =>
        new RedisFairLock(redis, subscriber, { prefix: config.queuePrefix, observer: metrics && new FairLockMetrics(metrics) }),
    },
    LockingShutdown,
  ],
  exports: [LOCK_PORT],
})
export class LockingModule {}

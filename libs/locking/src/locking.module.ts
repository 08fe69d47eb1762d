import { Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { LOCK_PORT } from './application/ports/lock.port';
import { RedisSimpleLockAdapter } from './infrastructure/redis-simple-lock.adapter';

@Module({
  providers: [
    {
      provide: LOCK_PORT,
      inject: [REDIS_CLIENT, AppConfig],
      useFactory: (redis: Redis, config: AppConfig) => new RedisSimpleLockAdapter(redis, config.queuePrefix),
    },
  ],
  exports: [LOCK_PORT],
})
export class LockingModule {}

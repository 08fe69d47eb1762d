import { Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { RedisFleetRegistry } from '../fleet/redis-fleet-registry';
import { ServersController } from './servers.controller';

/**
 * GET /api/v1/servers and POST /api/v1/servers/:id/drain, read from and written to the registry
 * the workers publish into: no fleet of its own, so the API mounts it with or without a worker.
 */
@Module({
  controllers: [ServersController],
  providers: [
    {
      provide: RedisFleetRegistry,
      useFactory: (redis: Redis, config: AppConfig) => new RedisFleetRegistry(redis, config.queuePrefix),
      inject: [REDIS_CLIENT, AppConfig],
    },
  ],
})
export class OpencodeFleetApiModule {}

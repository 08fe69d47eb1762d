import { Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { CAPACITY_METRICS } from './application/ports/capacity-metrics.port';
import { CAPACITY_STORE } from './application/ports/capacity-store.port';
import { USAGE_WINDOWS } from './application/ports/usage-windows.port';
import { CAPACITY_OPTIONS, ProviderCapacityService } from './application/provider-capacity.service';
import { CapacityMetrics } from './infrastructure/metrics/capacity-metrics';
import { RedisCapacityStore } from './infrastructure/redis/redis-capacity-store';
import { RedisUsageWindows } from './infrastructure/redis/redis-usage-windows';

const ports = [
  {
    provide: CAPACITY_STORE,
    inject: [REDIS_CLIENT, AppConfig],
    useFactory: (redis: Redis, config: AppConfig) => new RedisCapacityStore(redis, config.queuePrefix),
  },
  {
    provide: USAGE_WINDOWS,
    inject: [REDIS_CLIENT, AppConfig],
    useFactory: (redis: Redis, config: AppConfig) => new RedisUsageWindows(redis, config.queuePrefix),
  },
  { provide: CAPACITY_METRICS, useClass: CapacityMetrics },
  // The defaults; a test overrides them (a short permit TTL).
  { provide: CAPACITY_OPTIONS, useValue: {} },
];

/**
 * Provider capacity (PROVIDER_LIMITS) held in Redis across every worker: concurrency slots,
 * rpm/tpm windows, cooldown and unavailable marks. Needs RedisModule (REDIS_CLIENT) and AppConfig;
 * records into Metrics when the process has them. A test may override CAPACITY_OPTIONS.
 */
@Module({
  providers: [...ports, ProviderCapacityService],
  exports: [ProviderCapacityService],
})
export class CapacityModule {}

// The platform's public entry: what other code uses of it, nothing more.
export { PlatformModule } from './platform.module';
export { createRedisConnection, REDIS_CLIENT, RedisModule } from './redis.module';
export { RedisChannelSubscriber } from './redis-channel-subscriber';
export { postgresConnectionOptions } from './postgres-connection';
export { ProcessShutdown } from './shutdown/process-shutdown';
export type { DrainStep } from './shutdown/process-shutdown';
export { stopOnSignals } from './shutdown/stop-on-signals';
export type { StopOnSignalsOptions } from './shutdown/stop-on-signals';
export { MAINTENANCE_QUEUE, MaintenanceJobs, MaintenanceModule } from './maintenance-jobs';
export type { MaintenanceJob } from './maintenance-jobs';
export { OutageClassifier, outageOf } from './outage-classifier';
export type { OutagePorts } from './outage-classifier';
export { assertRedisReachable, redisConnectionLost } from './redis-reachability';

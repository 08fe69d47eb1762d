// The platform's public entry: what other code uses of it, nothing more.
export { PlatformModule } from './platform.module';
export { createRedisConnection, REDIS_CLIENT, RedisModule } from './redis.module';
export { RedisChannelSubscriber } from './redis-channel-subscriber';
export { postgresConnectionOptions } from './postgres-connection';

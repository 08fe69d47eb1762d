export * from './platform.module';
export * from './redis.module';
export * from './redis-channel-subscriber';

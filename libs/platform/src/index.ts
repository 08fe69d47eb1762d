export * from './platform.module';
export * from './redis.module';

import { AppConfig } from '@app/config';
import Redis, { RedisOptions } from 'ioredis';
import { onTestFileEnd } from './test-file';

/**
 * A connection to the Redis the app would use (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD), or to
 * `server` (e.g. a TestRedisServer). Disconnected when the file ends, if the test did not quit it.
 */
export function connectTestRedis(options: RedisOptions = {}, server?: { host: string; port: number }): Redis {
  const { host, port, password } = server ? { ...server, password: undefined } : AppConfig.fromEnvironment().redis;
  const redis = new Redis({ host, port, password, ...options });
  onTestFileEnd(() => redis.disconnect());
  return redis;
}

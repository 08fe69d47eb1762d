import { ServiceUnavailableError } from '@app/shared';
import type Redis from 'ioredis';

/**
 * ioredis statuses of a connection that was lost and is not back: a command sent now waits in
 * the client's offline queue until Redis returns (the shared clients retry for ever), so a
 * caller that someone is waiting on (an API request) would hang for the whole outage. 'wait',
 * 'connecting' and 'connect' are a connection being made (a process starting, or a reconnect
 * about to succeed): commands then wait briefly, as they should.
 */
const LOST = new Set(['reconnecting', 'close', 'end']);

/** Whether the client's connection to Redis is lost (see LOST): a command would wait for Redis to come back. */
export function redisConnectionLost(redis: Pick<Redis, 'status'>): boolean {
  return LOST.has(redis.status);
}

/**
 * Throws 503 REDIS_UNAVAILABLE (ServiceUnavailableError) at once when the connection is lost,
 * instead of letting the caller's command wait in the offline queue for the whole outage. For
 * reads someone waits on; work that must happen once Redis is back (a release) is sent anyway.
 */
export function assertRedisReachable(redis: Pick<Redis, 'status'>, what: string): void {
  if (redisConnectionLost(redis)) throw new ServiceUnavailableError('redis', { reason: `${what}: the connection to Redis is lost (${redis.status})` });
}

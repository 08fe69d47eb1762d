import { AppConfig } from '@app/config';
import Redis from 'ioredis';
import { RedisRunHeartbeat } from './redis-run-heartbeat';

describe('RedisRunHeartbeat (real Redis)', () => {
  const redis = new Redis({ host: '127.0.0.1', port: 6379 });
  const config = AppConfig.with({ QUEUE_PREFIX: `hb-int-${process.pid}` });
  const heartbeat = new RedisRunHeartbeat(redis, config);
  afterAll(() => redis.quit());

  it('reports sessions alive while beaten, and not after their TTL', async () => {
    await heartbeat.beat(['a', 'b'], 150);
    expect(await heartbeat.alive(['a', 'b', 'c'])).toEqual(new Set(['a', 'b']));
    await new Promise((r) => setTimeout(r, 250));
    expect(await heartbeat.alive(['a', 'b'])).toEqual(new Set());
    expect(await heartbeat.alive([])).toEqual(new Set());
  });
});

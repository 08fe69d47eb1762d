import { testConfig } from '../../../../../test/support/database';
import { connectTestRedis } from '../../../../../test/support/redis';
import { RedisRunHeartbeat } from './redis-run-heartbeat';

describe('RedisRunHeartbeat (real Redis)', () => {
  const redis = connectTestRedis();
  const config = testConfig();
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

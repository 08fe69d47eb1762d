import { AppConfig } from '@app/config';
import Redis from 'ioredis';
import { OpencodeFleet } from './fleet/opencode-fleet';
import { opencodeFleetFor } from './opencode.module';

describe('opencodeFleetFor', () => {
  // Never connected: a fleet that is not started publishes nothing.
  const redis = new Redis({ lazyConnect: true, enableOfflineQueue: false });
  afterAll(() => redis.disconnect());

  it('gives a fleet of this worker process, not started', () => {
    const fleet = opencodeFleetFor(AppConfig.with({ OPENCODE_HOST: 'oc.internal', OPENCODE_PORT: '4100', OPENCODE_PASSWORD: 'pw', OPENCODE_MODEL: 'a/b' }), redis);
    expect(fleet).toBeInstanceOf(OpencodeFleet);
    expect(fleet.workerId).toMatch(new RegExp(`^[A-Za-z0-9-]{1,40}-${process.pid}$`));
    expect(fleet.list()).toEqual([]);
    expect(redis.status).toBe('wait');
  });

  it('refuses to start with no server at all (OPENCODE_SERVERS=0, no OPENCODE_HOST or OPENCODE_HOSTS)', async () => {
    const none = opencodeFleetFor(AppConfig.with({ OPENCODE_HOST: '', OPENCODE_HOSTS: '', OPENCODE_SERVERS: '0' }), redis);
    await expect(none.start()).rejects.toThrow(/no OpenCode server configured/);
  });
});

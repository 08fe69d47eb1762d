import Redis from 'ioredis';
import { waitFor } from '@app/testing';
import { testConfig } from '../../../../../test/support/database';
import { connectTestRedis } from '../../../../../test/support/redis';
import { SessionLiveEvent, SessionTextEvent } from '../../application/ports/session-events.port';
import { RedisSessionEvents } from './redis-session-events';

const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';

function text(sessionId: string, n: number): SessionTextEvent {
  return { sessionId, type: 'text', at: new Date().toISOString(), data: { attempt: 1, messageId: 'msg_a', partId: 'prt_a', delta: String(n) } };
}

function transition(sessionId: string, seq: number): SessionLiveEvent {
  return {
    sessionId,
    type: 'transition',
    seq,
    at: new Date().toISOString(),
    data: { from: 'RUNNING' as never, to: 'COMPLETED' as never, reason: 'turn completed', attempt: 1, session: { id: sessionId } as never },
  };
}

/** Three "processes" (each its own adapter and command connection) on one real Redis. */
describe('RedisSessionEvents (real Redis)', () => {
  const config = testConfig();
  const connections: Redis[] = [];
  const adapters: RedisSessionEvents[] = [];
  const process_ = () => {
    const redis = connectTestRedis({ maxRetriesPerRequest: null });
    connections.push(redis);
    const adapter = new RedisSessionEvents(redis, config);
    adapters.push(adapter);
    return adapter;
  };
  const admin = connectTestRedis();
  const subscriberConnections = async () =>
    (await admin.client('LIST') as string)
      .split('\n')
      .filter((line) => line.includes(`name=${config.queuePrefix}:session-events `));

  afterAll(async () => {
    for (const a of adapters) await a.onApplicationShutdown();
    for (const c of connections) await c.quit();
    await admin.quit();
  });

  it('fans events out to every subscriber of every process, in publish order, each through its filter', async () => {
    const api1 = process_();
    const api2 = process_();
    const worker = process_();
    const all: SessionLiveEvent[] = [];
    const onlyS1: SessionLiveEvent[] = [];
    const transitionsOnly: SessionLiveEvent[] = [];
    const unsubscribe = await Promise.all([
      api1.subscribe({}, (e) => all.push(e)),
      api1.subscribe({ sessionIds: [S1] }, (e) => onlyS1.push(e)),
      api2.subscribe({ types: ['transition'] }, (e) => transitionsOnly.push(e)),
    ]);

    // Published without waiting for one another, as the worker does: order comes from the connection.
    const published: SessionLiveEvent[] = [];
    for (let i = 0; i < 300; i++) published.push(text(i % 3 === 0 ? S2 : S1, i));
    published.push(transition(S1, 5), transition(S2, 7));
    await Promise.all(published.map((e) => worker.publish(e)));

    await waitFor(async () => all.length, (n) => n === published.length, { timeoutMs: 5_000, what: 'every event' });
    expect(all).toEqual(published);
    expect(onlyS1).toEqual(published.filter((e) => e.sessionId === S1));
    await waitFor(async () => transitionsOnly.length, (n) => n === 2, { timeoutMs: 5_000, what: 'the transitions' });
    expect(transitionsOnly).toEqual(published.slice(-2));

    // One subscriber connection per process that subscribed, whatever its number of listeners; none for the publisher.
    expect(await subscriberConnections()).toHaveLength(2);

    unsubscribe[0]();
    await worker.publish(text(S1, 1000));
    await waitFor(async () => onlyS1.length, (n) => n === published.filter((e) => e.sessionId === S1).length + 1, { timeoutMs: 5_000, what: 'the last event' });
    expect(all).toHaveLength(published.length); // unsubscribed: nothing more
    unsubscribe.slice(1).forEach((u) => u());
  });

  it('ignores messages on its channel that are not session events', async () => {
    const api = process_();
    const received: SessionLiveEvent[] = [];
    await api.subscribe({}, (e) => received.push(e));
    await admin.publish(`${config.queuePrefix}:session-events`, 'not json');
    await admin.publish(`${config.queuePrefix}:session-events`, JSON.stringify({ sessionId: S1, type: 'gossip' }));
    const real = text(S1, 1);
    await api.publish(real);
    await waitFor(async () => received.length, (n) => n >= 1, { timeoutMs: 5_000, what: 'the real event' });
    expect(received).toEqual([real]);
  });

  it('tells its listeners about a gap when its subscriber connection drops, and goes on delivering', async () => {
    const api = process_();
    const publisher = process_();
    const received: SessionLiveEvent[] = [];
    let gaps = 0;
    await api.subscribe({ sessionIds: [S2] }, (e) => received.push(e), { onGap: () => gaps++ });
    expect((await subscriberConnections()).length).toBeGreaterThan(0);
    // Only this spec's connections: other specs may be using Redis at the same time.
    for (const line of await subscriberConnections()) {
      const id = /\bid=(\d+)/.exec(line)?.[1];
      if (id) await admin.client('KILL', 'ID', id);
    }
    await waitFor(async () => gaps, (n) => n >= 1, { timeoutMs: 10_000, what: 'the gap' });
    await publisher.publish(text(S2, 42));
    await waitFor(async () => received.length, (n) => n >= 1, { timeoutMs: 5_000, what: 'an event after the gap' });
    expect(received.at(-1)?.data).toMatchObject({ delta: '42' });
  });

  it('fails a subscription clearly after shutdown', async () => {
    const api = process_();
    await api.onApplicationShutdown();
    await expect(api.subscribe({}, () => undefined)).rejects.toMatchObject({ name: 'SessionEventsUnavailableError' });
  });
});

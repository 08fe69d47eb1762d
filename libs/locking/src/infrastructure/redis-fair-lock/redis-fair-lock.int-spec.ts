import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { killLockHolders, startLockHolder } from '../../../../../test/support/lock-holder-process';
import { connectTestRedis } from '../../../../../test/support/redis';
import { startRedisServer, TestRedisServer } from '../../../../../test/support/redis-server';
import { testQueuePrefix } from '../../../../../test/support/test-file';
import { waitFor } from '../../../../../test/support/wait';
import { Lease, LockView } from '../../application/ports/lock.port';
import { LockError, LockErrorCode } from '../../domain/lock.errors';
import { FairLockOptions, RedisFairLock } from './redis-fair-lock';

/**
 * The fair lock against the real Redis (the app's REDIS_HOST and REDIS_PORT): several
 * RedisFairLock instances (each with its own command and subscriber connection) stand for several
 * processes, and child processes (test/support/lock-holder-process.ts) stand for ones that get
 * killed or paused. Every test uses its own namespace under the file's key prefix, removed
 * afterwards. The restart test restarts a redis-server of its own, never the shared one.
 */
const PREFIX = testQueuePrefix();

const connections: Redis[] = [];
const instances: RedisFairLock[] = [];
/** The private Redis of the restart test, once started. */
let restartable: TestRedisServer | undefined;

function connect(server?: TestRedisServer): Redis {
  const redis = connectTestRedis({ maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 50, 500) }, server);
  redis.on('error', () => undefined); // Redis restarts on purpose below
  connections.push(redis);
  return redis;
}

/** A lock client as one process would have it: its own two connections (to `server` if given). */
function makeLock(namespace: string, options: Partial<FairLockOptions> = {}, server?: TestRedisServer): RedisFairLock {
  const lock = new RedisFairLock(connect(server), connect(server), {
    prefix: PREFIX,
    namespace,
    recheckMs: 50,
    deadlockCheckMs: 100,
    ...options,
  });
  instances.push(lock);
  return lock;
}

const admin = connect();

async function keysMatching(pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

async function view(lock: RedisFairLock, resource: string): Promise<LockView | undefined> {
  return (await lock.list()).find((v) => v.resource === resource);
}

async function queueOf(lock: RedisFairLock, resource: string): Promise<string[]> {
  return (await view(lock, resource))?.waiters.map((w) => w.owner) ?? [];
}

/** Waits until list() shows exactly these waiters, in this order. */
async function waitForQueue(lock: RedisFairLock, resource: string, owners: string[]): Promise<void> {
  await waitFor(
    () => queueOf(lock, resource),
    (queue) => queue.join(',') === owners.join(','),
    { timeoutMs: 10_000, intervalMs: 10, what: `the queue of ${resource} to be [${owners.join(', ')}]` },
  );
}

async function failure(promise: Promise<unknown>): Promise<LockError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(LockError);
    return err as LockError;
  }
  throw new Error('expected a LockError, but the call succeeded');
}

type Outcome = { ok: true; lease: Lease } | { ok: false; error: LockError };

function outcome(promise: Promise<Lease>): Promise<Outcome> {
  return promise.then(
    (lease) => ({ ok: true, lease }),
    (error: LockError) => ({ ok: false, error }),
  );
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('RedisFairLock (real Redis)', () => {
  beforeAll(() => Logger.overrideLogger(['error']));

  afterAll(async () => {
    await killLockHolders();
    await restartable?.ensureRunning(); // its locks close cleanly only while it answers
    await Promise.all(instances.map((lock) => lock.close()));
    const keys = await keysMatching(`${PREFIX}*`);
    if (keys.length) await admin.del(...keys);
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())));
    await restartable?.stop();
  });

  it(
    'lets exactly one of 50 concurrent clients in at a time, and every client gets all its turns',
    async () => {
      const clients = range(50).map(() => makeLock('mutex'));
      const lockKey = clients[0].keysOf('counter')[0];
      const TURNS = 3;
      let inside: string | null = null;
      let overlaps = 0;
      let counter = 0;
      const turns = new Map<string, number>();
      const fences: number[] = [];
      const redisDisagreed: string[] = [];
      const released: boolean[] = [];

      await Promise.all(
        clients.map(async (lock, i) => {
          const owner = `client-${i}`;
          for (let t = 0; t < TURNS; t++) {
            const lease = await lock.acquire('counter', { owner, ttlMs: 1000, waitTimeoutMs: 20_000 });
            if (inside !== null) overlaps++;
            inside = owner;
            fences.push(lease.fence);
            const read = counter;
            // Give anybody who wrongly believes it holds the lock a chance to run in between.
            if ((await admin.hget(lockKey, 'f')) !== lease.token) redisDisagreed.push(owner);
            await sleep(1);
            counter = read + 1;
            if (inside !== owner) overlaps++;
            inside = null;
            turns.set(owner, (turns.get(owner) ?? 0) + 1);
            released.push(await lock.release(lease));
          }
        }),
      );

      expect(overlaps).toBe(0);
      expect(redisDisagreed).toEqual([]);
      expect(counter).toBe(50 * TURNS);
      expect([...turns.values()]).toEqual(range(50).map(() => TURNS));
      expect(released.every(Boolean)).toBe(true);
      for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]);
      expect(await view(clients[0], 'counter')).toBeUndefined();
      await Promise.all(clients.map((lock) => lock.close()));
    },
  );

  it(
    'grants in strict arrival order, across instances (messages) and within one (replies)',
    async () => {
      const [a, b, c] = [makeLock('fifo'), makeLock('fifo'), makeLock('fifo')];
      // Consecutive waiters on the same instance (a→a, b→b, c→c) take the local path: the
      // release that grants them is answered with the grant. The others are told by message.
      const pattern = [a, a, b, b, a, c, c, b, a, c];
      const head = await a.acquire('fifo', { owner: 'head', ttlMs: 5000, waitTimeoutMs: 0 });
      const granted: { index: number; fence: number }[] = [];
      const waiting: Promise<void>[] = [];
      for (const [index, lock] of pattern.entries()) {
        waiting.push(
          lock.acquire('fifo', { owner: `w${index}`, ttlMs: 5000, waitTimeoutMs: 20_000 }).then(async (lease) => {
            granted.push({ index, fence: lease.fence });
            await sleep(2);
            expect(await lock.release(lease)).toBe(true);
          }),
        );
        // Confirm the arrival order before the next one asks.
        await waitForQueue(a, 'fifo', range(index + 1).map((i) => `w${i}`));
      }
      const queue = (await view(b, 'fifo'))!;
      expect(queue.holder?.owner).toBe('head');
      expect(queue.waiters.map((w) => w.position)).toEqual(range(pattern.length).map((i) => i + 1));

      expect(await a.release(head)).toBe(true);
      await Promise.all(waiting);
      expect(granted.map((g) => g.index)).toEqual(range(pattern.length));
      for (let i = 1; i < granted.length; i++) expect(granted[i].fence).toBeGreaterThan(granted[i - 1].fence);
      expect(granted[0].fence).toBeGreaterThan(head.fence);
      expect(await view(a, 'fifo')).toBeUndefined();
    },
  );

  it(
    'hands out strictly increasing fences, still larger after every key of the namespace is deleted',
    async () => {
      const [a, b] = [makeLock('fence'), makeLock('fence')];
      const fences: number[] = [];
      for (let i = 0; i < 20; i++) {
        const lock = i % 2 ? a : b;
        const lease = await lock.acquire('fenced', { owner: `o${i}`, ttlMs: 1000, waitTimeoutMs: 1000 });
        expect(lease.token).toBe(String(lease.fence));
        fences.push(lease.fence);
        expect(await lock.release(lease)).toBe(true);
      }
      for (let i = 1; i < fences.length; i++) expect(fences[i]).toBeGreaterThan(fences[i - 1]);
      // A held grant and a queue are lost with the rest.
      await a.acquire('fenced', { owner: 'lost', ttlMs: 5000, waitTimeoutMs: 0 });
      const last = Math.max(...fences);
      const keys = await keysMatching(`${a.ns}:*`);
      expect(keys).toEqual(expect.arrayContaining([`${a.ns}:fence`, a.keysOf('fenced')[0]]));
      await admin.del(...keys);
      const after = await b.acquire('fenced', { owner: 'after', ttlMs: 1000, waitTimeoutMs: 0 });
      expect(after.fence).toBeGreaterThan(last);
      expect(await b.release(after)).toBe(true);
    },
  );

  describe('waiting', () => {
    it(
      'times out with a retryable LOCK_TIMEOUT and leaves the queue',
      async () => {
        const [a, b] = [makeLock('timeout'), makeLock('timeout')];
        const held = await a.acquire('busy', { owner: 'holder', ttlMs: 2000, waitTimeoutMs: 0 });

        const once = await failure(b.acquire('busy', { owner: 'once', ttlMs: 1000, waitTimeoutMs: 0 }));
        expect(once.code).toBe(LockErrorCode.LOCK_TIMEOUT);
        expect(await queueOf(a, 'busy')).toEqual([]);

        const started = Date.now();
        const waiting = failure(b.acquire('busy', { owner: 'patient', ttlMs: 1000, waitTimeoutMs: 400 }));
        await waitForQueue(a, 'busy', ['patient']);
        const error = await waiting;
        expect(Date.now() - started).toBeGreaterThanOrEqual(400);
        expect(error.code).toBe(LockErrorCode.LOCK_TIMEOUT);
        expect(error.retryable).toBe(true);
        expect(error.retryAfterSeconds).toBeGreaterThan(0);
        expect(error.details).toMatchObject({ resource: 'busy', waitTimeoutMs: 400 });

        const now = (await view(a, 'busy'))!;
        expect(now.holder?.owner).toBe('holder');
        expect(now.waiters).toEqual([]);
        expect(await admin.zcard(a.keysOf('busy')[1])).toBe(0);
        expect(await keysMatching(`${a.ns}:w:*`)).toEqual([]);
        expect(await admin.exists(`${a.ns}:ow:patient`)).toBe(0);

        expect(await a.release(held)).toBe(true);
        expect(await view(a, 'busy')).toBeUndefined();
      },
    );

    it(
      'never leaks a grant that lands as its waiter times out: it goes to the next waiter',
      async () => {
        const [a, b, c] = [makeLock('race'), makeLock('race'), makeLock('race')];
        const WAIT = 200;
        // The holder lets go around the first waiter's deadline: clearly before, clearly after, and
        // within a few ms either way, where the grant and the timeout race.
        const offsets = [-50, 50, -2, -1, 0, 1, 2, 3, -3, 0, -50, 50, 1, 0, -1, 2, 0, -2, 1, 0];
        let grantedInTime = 0;
        let timedOut = 0;
        for (const lock of [a, b, c]) {
          // Subscribe once beforehand, so that each round's waiters ask in the order they are started.
          expect(await lock.release(await lock.acquire('warm-up', { owner: 'warm-up', ttlMs: 1000, waitTimeoutMs: 1000 }))).toBe(true);
        }
        for (const [round, offset] of offsets.entries()) {
          // Half the rounds release from the first waiter's own instance (the grant comes back in the reply).
          const holderLock = round % 2 ? b : a;
          const holder = await holderLock.acquire('race', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
          const startedAt = Date.now();
          const first = outcome(b.acquire('race', { owner: `first-${round}`, ttlMs: 5000, waitTimeoutMs: WAIT }));
          await waitForQueue(a, 'race', [`first-${round}`]);
          const second = outcome(c.acquire('race', { owner: `second-${round}`, ttlMs: 5000, waitTimeoutMs: 5000 }));
          await waitForQueue(a, 'race', [`first-${round}`, `second-${round}`]);
          await sleep(Math.max(0, startedAt + WAIT + offset - Date.now()));
          expect(await holderLock.release(holder)).toBe(true);

          const got = await first;
          if (got.ok) {
            grantedInTime++;
            expect(got.lease.owner).toBe(`first-${round}`);
            expect(await b.release(got.lease)).toBe(true);
          } else {
            timedOut++;
            expect(got.error.code).toBe(LockErrorCode.LOCK_TIMEOUT);
            const now = await view(a, 'race');
            expect(now?.holder?.owner).not.toBe(`first-${round}`);
          }
          // The next waiter gets it long before its own timeout; a leaked grant would hold it for 5 s.
          const next = await second;
          if (!next.ok) throw next.error;
          const now = (await view(a, 'race'))!;
          expect(now.holder).toMatchObject({ owner: `second-${round}`, fence: next.lease.fence });
          expect(now.waiters).toEqual([]);
          expect(await c.release(next.lease)).toBe(true);
          expect(await view(a, 'race')).toBeUndefined();
        }
        expect(grantedInTime).toBeGreaterThan(0);
        expect(timedOut).toBeGreaterThan(0);
        expect(await keysMatching(`${a.ns}:w:*`)).toEqual([]);
      },
    );

    it(
      'stops waiting with LOCK_ABORTED when its signal fires, and leaves the queue',
      async () => {
        const [a, b] = [makeLock('abort'), makeLock('abort')];
        const held = await a.acquire('r', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });

        const already = new AbortController();
        already.abort(new Error('never mind'));
        const early = await failure(b.acquire('r', { owner: 'early', ttlMs: 1000, waitTimeoutMs: 5000, signal: already.signal }));
        expect(early.code).toBe(LockErrorCode.LOCK_ABORTED);

        const controller = new AbortController();
        const waiting = failure(b.acquire('r', { owner: 'quitter', ttlMs: 1000, waitTimeoutMs: 10_000, signal: controller.signal }));
        await waitForQueue(a, 'r', ['quitter']);
        const behind = outcome(a.acquire('r', { owner: 'behind', ttlMs: 1000, waitTimeoutMs: 10_000 }));
        await waitForQueue(a, 'r', ['quitter', 'behind']);
        controller.abort(new Error('the request was cancelled'));
        const error = await waiting;
        expect(error.code).toBe(LockErrorCode.LOCK_ABORTED);
        expect(error.message).toContain('the request was cancelled');
        expect(await queueOf(a, 'r')).toEqual(['behind']);

        expect(await a.release(held)).toBe(true);
        const next = await behind;
        if (!next.ok) throw next.error;
        expect(next.lease.owner).toBe('behind');
        expect(await a.release(next.lease)).toBe(true);
        expect(await view(a, 'r')).toBeUndefined();
        expect(await keysMatching(`${a.ns}:w:*`)).toEqual([]);
      },
    );
  });

  it(
    'reports LOCK_UNAVAILABLE, without hanging, when Redis does not answer',
    async () => {
      // Nothing listens on port 1: commands wait in the client's offline queue.
      const unreachable = () => {
        const redis = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: null, retryStrategy: () => 100 });
        redis.on('error', () => undefined);
        return redis;
      };
      const [redis, subscriber] = [unreachable(), unreachable()];
      const lock = new RedisFairLock(redis, subscriber, { prefix: PREFIX, namespace: 'unreachable', callTimeoutMs: 200 });
      try {
        for (const waitTimeoutMs of [0, 300]) {
          const error = await failure(lock.acquire('r', { owner: 'o', ttlMs: 1000, waitTimeoutMs }));
          expect(error.code).toBe(LockErrorCode.LOCK_UNAVAILABLE);
          expect(error.retryable).toBe(true);
        }
      } finally {
        await lock.close();
        redis.disconnect();
        subscriber.disconnect();
      }
    },
  );

  it(
    'on close(), fails pending acquires with LOCK_ABORTED, takes them out of the queue, and refuses new ones',
    async () => {
      const [a, b] = [makeLock('close'), makeLock('close')];
      const held = await a.acquire('r', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
      const pending = failure(b.acquire('r', { owner: 'closing', ttlMs: 1000, waitTimeoutMs: 10_000 }));
      await waitForQueue(a, 'r', ['closing']);
      await b.close();
      const error = await pending;
      expect(error.code).toBe(LockErrorCode.LOCK_ABORTED);
      expect(await queueOf(a, 'r')).toEqual([]);
      expect((await failure(b.acquire('other', { owner: 'late', ttlMs: 1000, waitTimeoutMs: 0 }))).code).toBe(LockErrorCode.LOCK_ABORTED);
      expect(await a.release(held)).toBe(true);
      expect(await a.list()).toEqual([]);
    },
  );

  it(
    'lets an owner reclaim the lock it still holds from a dead process, with a new fence, ahead of the queue',
    async () => {
      const [a, b, c] = [makeLock('reclaim'), makeLock('reclaim'), makeLock('reclaim')];
      const old = await a.acquire('r', { owner: 'session-1', ttlMs: 300, waitTimeoutMs: 0 });
      const queued = outcome(c.acquire('r', { owner: 'other', ttlMs: 1000, waitTimeoutMs: 10_000 }));
      await waitForQueue(a, 'r', ['other']);
      const stranger = await failure(b.acquire('r', { owner: 'session-2', ttlMs: 1000, waitTimeoutMs: 0, reclaim: true }));
      expect(stranger.code).toBe(LockErrorCode.LOCK_TIMEOUT);

      const reclaimed = await b.acquire('r', { owner: 'session-1', ttlMs: 1000, waitTimeoutMs: 0, reclaim: true });
      expect(reclaimed.fence).toBeGreaterThan(old.fence);
      expect((await view(a, 'r'))?.holder).toMatchObject({ owner: 'session-1', fence: reclaimed.fence });
      await waitFor(async () => old.signal.aborted, Boolean, { timeoutMs: 5000, intervalMs: 10, what: 'the old lease to be lost' });
      expect((old.signal.reason as LockError).code).toBe(LockErrorCode.LOCK_LOST);
      expect(LockError.isTakeover(old.signal.reason)).toBe(true);
      expect(await a.release(old)).toBe(false);
      expect(await queueOf(a, 'r')).toEqual(['other']);

      expect(await b.release(reclaimed)).toBe(true);
      const next = await queued;
      if (!next.ok) throw next.error;
      expect(next.lease.fence).toBeGreaterThan(reclaimed.fence);
      expect(await c.release(next.lease)).toBe(true);
    },
  );

  describe('processes that die or stall', () => {
    it(
      'skips a waiter whose process was killed once its liveness expired',
      async () => {
        const [a, b] = [makeLock('dead-waiter'), makeLock('dead-waiter')];
        const held = await a.acquire('r', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
        const child = startLockHolder({
          prefix: PREFIX,
          namespace: 'dead-waiter',
          options: { recheckMs: 50, livenessMs: 400 },
          resource: 'r',
          owner: 'doomed',
          // Were it granted, it would hold the lock well past the next waiter's timeout.
          ttlMs: 20_000,
          waitTimeoutMs: 30_000,
        });
        await child.next('ready');
        await waitForQueue(a, 'r', ['doomed']);
        const next = outcome(b.acquire('r', { owner: 'next', ttlMs: 5000, waitTimeoutMs: 8000 }));
        await waitForQueue(a, 'r', ['doomed', 'next']);

        await child.kill('SIGKILL');
        // Its place stays until its liveness runs out (Redis expires its record) ...
        await waitFor(() => keysMatching(`${a.ns}:w:*`), (keys) => keys.length === 1, {
          timeoutMs: 5000,
          intervalMs: 20,
          what: "the dead waiter's record to expire",
        });
        expect(await admin.zcard(a.keysOf('r')[1])).toBe(2); // still queued: nobody tidied yet
        // ... and then the release skips it.
        expect(await a.release(held)).toBe(true);
        const got = await next;
        if (!got.ok) throw got.error;
        expect(got.lease.owner).toBe('next');
        const now = (await view(a, 'r'))!;
        expect(now.holder?.owner).toBe('next');
        expect(now.waiters).toEqual([]);
        expect(child.events().map((e) => e.event)).toEqual(['ready']);
        expect(await b.release(got.lease)).toBe(true);
      },
    );

    it(
      'passes the lock of a SIGKILLed holder to the next waiter once its TTL ran out, not before',
      async () => {
        const lock = makeLock('dead-holder');
        const lockKey = lock.keysOf('r')[0];
        const child = startLockHolder({ prefix: PREFIX, namespace: 'dead-holder', resource: 'r', owner: 'doomed', ttlMs: 1000, waitTimeoutMs: 0 });
        const acquired = await child.next('acquired');
        const waiting = lock.acquire('r', { owner: 'heir', ttlMs: 1000, waitTimeoutMs: 10_000 });
        await waitForQueue(lock, 'r', ['heir']);
        await sleep(500); // let the child renew at least once

        await child.kill('SIGKILL');
        expect(await admin.hget(lockKey, 'o')).toBe('doomed');
        const pttl = await admin.pttl(lockKey);
        const measuredAt = Date.now();
        expect(pttl).toBeGreaterThan(0);

        const lease = await waiting;
        expect(Date.now() - measuredAt).toBeGreaterThanOrEqual(pttl - 20);
        expect(lease.owner).toBe('heir');
        expect(lease.fence).toBeGreaterThan(acquired.fence!);
        expect((await view(lock, 'r'))?.holder).toMatchObject({ owner: 'heir', fence: lease.fence });
        expect(await lock.release(lease)).toBe(true);
      },
    );

    it(
      'keeps a lease for a holder that outlives its TTL many times over, by renewing it',
      async () => {
        const [a, b] = [makeLock('renewal'), makeLock('renewal')];
        const lease = await a.acquire('r', { owner: 'long', ttlMs: 300, waitTimeoutMs: 0 });
        const started = Date.now();
        const other = outcome(b.acquire('r', { owner: 'other', ttlMs: 300, waitTimeoutMs: 1500 }));
        const seen = new Set<string>();
        while (Date.now() - started < 1500) {
          const now = await view(a, 'r');
          seen.add(`${now?.holder?.owner}/${now?.holder?.fence}`);
          await sleep(50);
        }
        expect([...seen]).toEqual([`long/${lease.fence}`]);
        const got = await other;
        expect(got.ok).toBe(false);
        expect(!got.ok && got.error.code).toBe(LockErrorCode.LOCK_TIMEOUT);
        expect(lease.signal.aborted).toBe(false);
        expect(await a.release(lease)).toBe(true);
        expect(await view(a, 'r')).toBeUndefined();
        await sleep(400); // a renewal after the release would have nothing to renew, and must not complain
        expect(lease.signal.aborted).toBe(false);
      },
    );

    it(
      'tells a holder whose event loop stalled past its TTL that it lost the lease (LOCK_LOST)',
      async () => {
        const [a, b] = [makeLock('stalled'), makeLock('stalled')];
        const lease = await a.acquire('r', { owner: 'sleepy', ttlMs: 300, waitTimeoutMs: 0 });
        const waiting = b.acquire('r', { owner: 'next', ttlMs: 1000, waitTimeoutMs: 10_000 });
        await waitForQueue(a, 'r', ['next']);

        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 800); // nothing runs: no renewal

        const next = await waiting;
        expect(next.fence).toBeGreaterThan(lease.fence);
        await waitFor(async () => lease.signal.aborted, Boolean, { timeoutMs: 5000, intervalMs: 10, what: 'the lease to be lost' });
        const reason = lease.signal.reason as LockError;
        expect(reason).toBeInstanceOf(LockError);
        expect(reason.code).toBe(LockErrorCode.LOCK_LOST);
        expect(reason.details).toMatchObject({ resource: 'r', fence: lease.fence });
        expect(await a.release(lease)).toBe(false);
        expect((await view(a, 'r'))?.holder).toMatchObject({ owner: 'next', fence: next.fence });
        expect(next.signal.aborted).toBe(false);
        expect(await b.release(next)).toBe(true);
      },
    );

    it(
      'tells a holder process that was stopped (SIGSTOP) past its TTL, once resumed, that it lost the lease',
      async () => {
        const lock = makeLock('stopped');
        const child = startLockHolder({ prefix: PREFIX, namespace: 'stopped', resource: 'r', owner: 'frozen', ttlMs: 400, waitTimeoutMs: 0 });
        const acquired = await child.next('acquired');
        const waiting = lock.acquire('r', { owner: 'next', ttlMs: 1000, waitTimeoutMs: 10_000 });
        await waitForQueue(lock, 'r', ['next']);

        child.signal('SIGSTOP');
        const next = await waiting;
        expect(next.fence).toBeGreaterThan(acquired.fence!);
        child.signal('SIGCONT');
        const lost = await child.next('lost', 10_000);
        expect(lost).toMatchObject({ code: LockErrorCode.LOCK_LOST, fence: acquired.fence });
        expect((await view(lock, 'r'))?.holder).toMatchObject({ owner: 'next', fence: next.fence });
        expect(await lock.release(next)).toBe(true);
        await child.kill();
      },
    );
  });

  it(
    'refuses a release by a forged or stale lease and changes nothing',
    async () => {
      const [a, b] = [makeLock('stale'), makeLock('stale')];
      const lockKey = a.keysOf('r')[0];
      const first = await a.acquire('r', { owner: 'first', ttlMs: 5000, waitTimeoutMs: 0 });
      const waiting = outcome(b.acquire('r', { owner: 'waiter', ttlMs: 5000, waitTimeoutMs: 10_000 }));
      await waitForQueue(a, 'r', ['waiter']);
      const before = await admin.hgetall(lockKey);

      expect(await b.release({ ...first, token: 'forged', fence: 1 })).toBe(false);
      expect(await b.release({ ...first, owner: 'mallory', token: String(first.fence + 1), fence: first.fence + 1 })).toBe(false);
      expect(await b.release({ ...first, resource: 'other', owner: 'mallory' })).toBe(false);
      expect(await admin.hgetall(lockKey)).toEqual(before);
      expect(await queueOf(a, 'r')).toEqual(['waiter']);

      expect(await a.release(first)).toBe(true);
      const got = await waiting;
      if (!got.ok) throw got.error;
      const current = await admin.hgetall(lockKey);
      // The old lease, from its own instance or another, cannot release the new grant.
      expect(await a.release(first)).toBe(false);
      expect(await b.release(first)).toBe(false);
      expect(await admin.hgetall(lockKey)).toEqual(current);
      expect((await view(a, 'r'))?.holder).toMatchObject({ owner: 'waiter', fence: got.lease.fence });
      await sleep(300);
      expect(got.lease.signal.aborted).toBe(false);
      expect(await b.release(got.lease)).toBe(true);
    },
  );

  it(
    'keeps working when the Redis script cache is flushed between operations',
    async () => {
      const [a, b, c] = [makeLock('flush'), makeLock('flush'), makeLock('flush')];
      const flush = () => admin.script('FLUSH');
      await flush();
      const held = await a.acquire('r', { owner: 'holder', ttlMs: 300, waitTimeoutMs: 0 });
      await flush();
      const waiting = b.acquire('r', { owner: 'waiter', ttlMs: 1000, waitTimeoutMs: 10_000 });
      await flush();
      await waitForQueue(c, 'r', ['waiter']);
      for (let i = 0; i < 8; i++) {
        await sleep(60); // renewals and rechecks run in between
        await flush();
      }
      expect(held.signal.aborted).toBe(false);
      expect(await queueOf(c, 'r')).toEqual(['waiter']);
      await flush();
      const timedOut = await failure(c.acquire('r', { owner: 'impatient', ttlMs: 1000, waitTimeoutMs: 100 }));
      expect(timedOut.code).toBe(LockErrorCode.LOCK_TIMEOUT);
      await flush();
      expect(await a.release(held)).toBe(true);
      const next = await waiting;
      expect(next.fence).toBeGreaterThan(held.fence);
      await flush();
      expect(await a.release(held)).toBe(false);
      expect(await b.release(next)).toBe(true);
      await flush();
      expect(await view(c, 'r')).toBeUndefined();
    },
  );

  describe('the uncontended path (one script each way, nothing but the grant written)', () => {
    /** Redis's clock, in ms, as the scripts read it. */
    const redisNow = async () => {
      const [seconds, micros] = await admin.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };

    it(
      'takes a free lock with an empty queue at once, and release leaves only the fence counter',
      async () => {
        const lock = makeLock('uncontended');
        const [lockKey] = lock.keysOf('r');
        const lease = await lock.acquire('r', { owner: 'solo', ttlMs: 5000, waitTimeoutMs: 1000, reclaim: true });
        expect((await keysMatching(`${lock.ns}:*`)).sort()).toEqual([`${lock.ns}:fence`, lockKey].sort());
        expect(await admin.hgetall(lockKey)).toEqual({ o: 'solo', f: lease.token, w: expect.any(String), t: '5000' });
        expect(await admin.pttl(lockKey)).toBeGreaterThan(0);
        expect(await lock.release(lease)).toBe(true);
        expect(await keysMatching(`${lock.ns}:*`)).toEqual([`${lock.ns}:fence`]);
      },
    );

    it(
      'does not take a free lock past a waiter (its holder expired unnoticed): the waiter gets it',
      async () => {
        // The waiter checks rarely, so that the lock stays free with it queued until the newcomer asks.
        const patient = makeLock('no-barging', { recheckMs: 20_000, deadlockCheckMs: 20_000 });
        const [holder, newcomer] = [makeLock('no-barging'), makeLock('no-barging')];
        const [lockKey, queueKey] = holder.keysOf('r');
        const held = await holder.acquire('r', { owner: 'holder', ttlMs: 30_000, waitTimeoutMs: 0 });
        const waiting = outcome(patient.acquire('r', { owner: 'waiter', ttlMs: 5000, waitTimeoutMs: 30_000 }));
        await waitForQueue(holder, 'r', ['waiter']);
        await admin.del(lockKey); // as if its TTL ran out
        expect(await admin.zcard(queueKey)).toBe(1);

        const barging = await failure(newcomer.acquire('r', { owner: 'newcomer', ttlMs: 5000, waitTimeoutMs: 0 }));
        expect(barging.code).toBe(LockErrorCode.LOCK_TIMEOUT);
        const got = await waiting; // handed over by the newcomer's call, told by message
        if (!got.ok) throw got.error;
        expect(got.lease.fence).toBeGreaterThan(held.fence);
        expect(await admin.hget(lockKey, 'o')).toBe('waiter');
        expect(await holder.release(held)).toBe(false);
        expect(await patient.release(got.lease)).toBe(true);
        expect(await holder.list()).toEqual([]);
      },
    );

    it(
      'takes a free lock whose queue holds only dead waiters, and clears them',
      async () => {
        const lock = makeLock('dead-queue');
        const [lockKey, queueKey] = lock.keysOf('r');
        await admin.zadd(queueKey, 1, 'gone.0'); // its record expired with its process
        const lease = await lock.acquire('r', { owner: 'next', ttlMs: 5000, waitTimeoutMs: 0 });
        expect(await admin.exists(queueKey)).toBe(0);
        expect(await admin.hget(lockKey, 'o')).toBe('next');
        expect(await lock.release(lease)).toBe(true);
      },
    );

    it(
      'writes any namespace into its scripts (quotes, a backslash, non-ASCII), and instances of two namespaces share connections',
      async () => {
        const [redis, subscriber] = [connect(), connect()];
        const odd = new RedisFairLock(redis, subscriber, { prefix: PREFIX, namespace: `it's "odd" \\ ünï`, recheckMs: 50 });
        const plain = new RedisFairLock(redis, subscriber, { prefix: PREFIX, namespace: 'plain-shared', recheckMs: 50 });
        instances.push(odd, plain);
        const held = await odd.acquire('r', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
        const other = await plain.acquire('r', { owner: 'other', ttlMs: 5000, waitTimeoutMs: 0 });
        expect(await admin.hget(odd.keysOf('r')[0], 'o')).toBe('holder');
        expect(await admin.hget(plain.keysOf('r')[0], 'o')).toBe('other');
        // The queue's path (waiter records, arrival counter) uses the namespace too.
        const waiting = outcome(odd.acquire('r', { owner: 'waiter', ttlMs: 5000, waitTimeoutMs: 10_000 }));
        await waitForQueue(odd, 'r', ['waiter']);
        expect(await keysMatching(`${odd.ns.replace(/[*?[\]\\]/g, '\\$&')}:w:*`)).toHaveLength(1);
        expect(await odd.release(held)).toBe(true);
        const got = await waiting;
        if (!got.ok) throw got.error;
        expect(await odd.release(got.lease)).toBe(true);
        expect(await plain.release(other)).toBe(true);
        expect(await odd.list()).toEqual([]);
        expect(await plain.list()).toEqual([]);
      },
    );

    it(
      'reports how long an uncontended grant has been held, before its first renewal and after',
      async () => {
        const lock = makeLock('held-for');
        // Never renewed: held for ttl - PTTL.
        const before = await redisNow();
        const kept = await lock.acquire('kept', { owner: 'o', ttlMs: 5000, waitTimeoutMs: 0, autoRenew: false });
        await sleep(50);
        const listed = (await view(lock, 'kept'))!.holder!;
        const listedBy = await redisNow();
        expect(await admin.hexists(lock.keysOf('kept')[0], 'at')).toBe(0);
        expect(listed.heldForMs).toBeGreaterThanOrEqual(50 - 2);
        expect(listed.heldForMs).toBeLessThanOrEqual(listedBy - before + 2);

        // Renewed (after ttl/3): the renewal wrote down when it was granted, not when it renewed.
        const renewedKey = lock.keysOf('renewed')[0];
        const from = await redisNow();
        const renewed = await lock.acquire('renewed', { owner: 'o', ttlMs: 300, waitTimeoutMs: 0 });
        const to = await redisNow();
        const at = Number(await waitFor(() => admin.hget(renewedKey, 'at'), Boolean, { timeoutMs: 5000, intervalMs: 10, what: 'a renewal' }));
        expect(at).toBeGreaterThanOrEqual(from - 2);
        expect(at).toBeLessThanOrEqual(to + 2);
        const seen = await redisNow(); // after the renewal, at least ttl/3 after the grant
        expect((await view(lock, 'renewed'))!.holder!.heldForMs).toBeGreaterThanOrEqual(seen - to - 2);
        expect(await lock.release(renewed)).toBe(true);
        expect(await lock.release(kept)).toBe(true);
      },
    );
  });

  describe('deadlocks', () => {
    /**
     * Owner i holds r_i, then (in order, each confirmed queued before the next) waits for
     * r_(i+1 mod n). Whoever gets r_(i+1) releases both; the victim releases what it holds.
     */
    async function ring(n: number, namespace: string, cycle: boolean) {
      const clients = [makeLock(namespace), makeLock(namespace), makeLock(namespace)];
      const lockOf = (i: number) => clients[i % clients.length];
      const resource = (i: number) => `r${i}`;
      const held = await Promise.all(
        range(n).map((i) => lockOf(i).acquire(resource(i), { owner: `o${i}`, ttlMs: 5000, waitTimeoutMs: 0 })),
      );
      const waiters = cycle ? n : n - 1; // without a cycle, the last one holds and does not wait
      const settled = new Set<number>();
      const outcomes: Promise<Outcome>[] = [];
      for (let i = 0; i < waiters; i++) {
        const wanted = resource((i + 1) % n);
        const result = outcome(lockOf(i).acquire(wanted, { owner: `o${i}`, ttlMs: 5000, waitTimeoutMs: 20_000 })).then(
          async (got) => {
            settled.add(i);
            if (got.ok) await lockOf(i).release(got.lease);
            await lockOf(i).release(held[i]);
            return got;
          },
        );
        outcomes.push(result);
        if (i < n - 1) await waitForQueue(clients[0], wanted, [`o${i}`]);
      }
      return { clients, held, outcomes, settled, lockOf };
    }

    it.each([2, 10])(
      'picks exactly one victim in a cycle of %i, the youngest waiter, and the rest complete',
      async (n) => {
        const { outcomes, clients } = await ring(n, `deadlock-${n}`, true);
        const results = await Promise.all(outcomes);
        const failed = results.flatMap((r, i) => (r.ok ? [] : [{ i, error: r.error }]));
        expect(failed.map((f) => [f.i, f.error.code])).toEqual([[n - 1, LockErrorCode.LOCK_DEADLOCK]]);
        const { error } = failed[0];
        expect(error.retryable).toBe(true);
        expect(error.details).toMatchObject({ owner: `o${n - 1}`, resource: 'r0' });
        const cycle = String(error.details?.cycle);
        for (const i of range(n)) {
          expect(cycle).toContain(`o${i} waits for r${(i + 1) % n} `);
          expect(cycle).toContain(`by o${i})`);
        }
        expect(results.filter((r) => r.ok)).toHaveLength(n - 1);
        expect(await clients[0].list()).toEqual([]);
      },
    );

    it(
      'never flags a long chain without a cycle, which completes once its end lets go',
      async () => {
        const n = 30;
        const { outcomes, settled, held, lockOf, clients } = await ring(n, 'chain', false);
        await waitFor(
          () => clients[0].list(),
          (locks) => locks.filter((l) => l.waiters.length === 1).length === n - 1,
          { timeoutMs: 10_000, intervalMs: 20, what: 'the whole chain to be queued' },
        );
        await sleep(800); // several deadlock checks (every recheck after 100 ms) by every waiter
        expect([...settled]).toEqual([]);
        expect(await lockOf(n - 1).release(held[n - 1])).toBe(true);
        const results = await Promise.all(outcomes);
        expect(results.filter((r) => !r.ok)).toEqual([]);
        expect(await clients[0].list()).toEqual([]);
      },
    );
  });

  describe('parked places (an owner that comes back instead of waiting)', () => {
    const place = (owner: string, extra: { placeMs?: number; claimMs?: number } = {}) => ({ owner, ttlMs: 5000, placeMs: 60_000, claimMs: 10_000, ...extra });

    it(
      'keeps a place in arrival order among live waiters without waiting, hands the lock to it in turn, tells the process that parked it, and the owner takes it',
      async () => {
        const [a, b, c, d] = [makeLock('park'), makeLock('park'), makeLock('park'), makeLock('park')];
        const held = await a.acquire('res', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
        const told: string[] = [];
        b.onParkedGrant((resource, owner) => told.push(`b:${resource}:${owner}`));
        c.onParkedGrant((resource, owner) => told.push(`c:${resource}:${owner}`));
        expect(await b.park('res', place('p1'))).toEqual({ kind: 'parked', position: 1 });
        expect(await c.park('res', place('p2'))).toEqual({ kind: 'parked', position: 2 });
        const live = outcome(d.acquire('res', { owner: 'live', ttlMs: 5000, waitTimeoutMs: 10_000 }));
        await waitForQueue(a, 'res', ['p1', 'p2', 'live']);
        // Parking again keeps the place (and its position), from any process.
        expect(await c.park('res', place('p1'))).toEqual({ kind: 'parked', position: 1 });
        expect(await b.park('res', place('p1'))).toEqual({ kind: 'parked', position: 1 });

        expect(await a.release(held)).toBe(true);
        await waitFor(async () => told, (t) => t.length === 1, { timeoutMs: 5000, intervalMs: 10, what: 'the grant to p1 told to b' });
        expect(told).toEqual(['b:res:p1']);
        expect((await view(a, 'res'))?.holder?.owner).toBe('p1');
        expect(await c.park('res', place('p2'))).toEqual({ kind: 'parked', position: 1 }); // no overtaking

        const first = await b.park('res', place('p1'));
        if (first.kind !== 'held') throw new Error('p1 should have taken the lock handed to its place');
        expect(first.lease.fence).toBeGreaterThan(held.fence);
        expect(await queueOf(a, 'res')).toEqual(['p2', 'live']);
        expect(await b.release(first.lease)).toBe(true);
        await waitFor(async () => told, (t) => t.length === 2, { timeoutMs: 5000, intervalMs: 10, what: 'the grant to p2 told to c' });
        expect(told[1]).toBe('c:res:p2');
        const second = await c.park('res', place('p2'));
        if (second.kind !== 'held') throw new Error('p2 should have taken the lock handed to its place');
        expect(await c.release(second.lease)).toBe(true);
        const last = await live;
        if (!last.ok) throw last.error;
        expect(last.lease.fence).toBeGreaterThan(second.lease.fence);
        expect(await d.release(last.lease)).toBe(true);
        expect(await keysMatching(`${a.ns}:w:*`)).toEqual([]);
      },
    );

    it(
      'takes over at once what its owner still holds (an earlier run that died, a previous attempt): it never queues behind itself',
      async () => {
        const [a, b] = [makeLock('park-own'), makeLock('park-own')];
        const earlier = await a.acquire('own', { owner: 'session:x', ttlMs: 600, waitTimeoutMs: 0 });
        const now = await b.park('own', place('session:x'));
        if (now.kind !== 'held') throw new Error('the owner should have taken its own lock over');
        expect(now.lease.fence).toBeGreaterThan(earlier.fence);
        await waitFor(async () => earlier.signal.aborted, Boolean, { timeoutMs: 5000, intervalMs: 20, what: 'the earlier lease to be told' });
        expect(LockError.isTakeover(earlier.signal.reason)).toBe(true);
        expect(await a.release(earlier)).toBe(false);
        expect((await view(a, 'own'))?.holder).toMatchObject({ owner: 'session:x', fence: now.lease.fence });
        expect(await b.release(now.lease)).toBe(true);
      },
    );

    it(
      'forgets a place given up or lapsed; a grant handed to a place given up, or not taken within claimMs, passes on',
      async () => {
        const [a, b, c] = [makeLock('park-leave'), makeLock('park-leave'), makeLock('park-leave')];
        const held = await a.acquire('res', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
        await b.park('res', place('gone'));
        await b.park('res', place('lapsing', { placeMs: 200 }));
        await b.park('res', place('granted'));
        await b.park('res', place('slow', { claimMs: 300 }));
        await b.unpark('res', 'gone');
        await sleep(400);
        await waitForQueue(a, 'res', ['granted', 'slow']);

        const live = outcome(c.acquire('res', { owner: 'live', ttlMs: 5000, waitTimeoutMs: 10_000 }));
        await waitForQueue(a, 'res', ['granted', 'slow', 'live']);
        expect(await a.release(held)).toBe(true);
        expect((await view(a, 'res'))?.holder?.owner).toBe('granted');
        await b.unpark('res', 'granted'); // the grant goes on to the next place
        expect((await view(a, 'res'))?.holder?.owner).toBe('slow');
        const got = await live; // 'slow' never comes: its grant lapses after 300 ms
        if (!got.ok) throw got.error;
        expect(await c.release(got.lease)).toBe(true);
        expect(await b.list()).toEqual([]);
      },
    );
  });

  describe('acquireAll', () => {
    it(
      'takes a set in canonical order, so callers asking in opposite orders never deadlock',
      async () => {
        const [a, b] = [makeLock('all'), makeLock('all')];
        for (let round = 0; round < 5; round++) {
          const take = async (lock: RedisFairLock, owner: string, resources: string[]) => {
            const leases = await lock.acquireAll(resources, { owner, ttlMs: 2000, waitTimeoutMs: 10_000 });
            expect(leases.map((l) => l.resource)).toEqual(['x', 'y', 'z']);
            await sleep(5);
            for (const lease of leases) expect(await lock.release(lease)).toBe(true);
          };
          await Promise.all([take(a, `fwd-${round}`, ['x', 'y', 'z', 'x']), take(b, `rev-${round}`, ['z', 'y', 'x'])]);
        }
        expect(await a.list()).toEqual([]);
      },
    );

    it(
      'releases what it got when one resource times out',
      async () => {
        const [a, b] = [makeLock('all-timeout'), makeLock('all-timeout')];
        const blocker = await a.acquire('m', { owner: 'blocker', ttlMs: 5000, waitTimeoutMs: 0 });
        const error = await failure(b.acquireAll(['z', 'm', 'a'], { owner: 'greedy', ttlMs: 5000, waitTimeoutMs: 300 }));
        expect(error.code).toBe(LockErrorCode.LOCK_TIMEOUT);
        expect(error.details).toMatchObject({ resource: 'm' });
        const locks = await a.list();
        expect(locks.map((l) => [l.resource, l.holder?.owner, l.waiters.length])).toEqual([['m', 'blocker', 0]]);
        const free = await a.acquire('a', { owner: 'someone', ttlMs: 1000, waitTimeoutMs: 0 });
        expect(await a.release(free)).toBe(true);
        expect(await a.release(blocker)).toBe(true);
      },
    );
  });

  it('keeps every key and the channel of a namespace in one Redis Cluster hash slot', async () => {
    // The hash-slot function ioredis's cluster client uses (a dependency of ioredis).
    const slotOf = require('cluster-key-slot') as (key: string) => number;
    for (const namespace of ['locks', 'slots', 'tenant-7']) {
      const lock = makeLock(namespace);
      const slot = slotOf(lock.channel);
      for (const resource of ['a', 'session:42', 'with space', '{braces}', 'ünïcødé', 'x'.repeat(200)]) {
        for (const owner of ['owner', 'run-1', '{o}']) {
          expect(lock.keysOf(resource, owner).map(slotOf)).toEqual(lock.keysOf(resource, owner).map(() => slot));
        }
      }
      if (namespace !== 'slots') continue;
      // And the keys it actually writes: holder, queue, waiter, owner's waits, fence, arrival counter.
      const held = await lock.acquire('{braces}', { owner: 'h', ttlMs: 2000, waitTimeoutMs: 0 });
      const other = makeLock(namespace);
      const waiting = outcome(other.acquire('{braces}', { owner: 'w', ttlMs: 2000, waitTimeoutMs: 5000 }));
      await waitForQueue(lock, '{braces}', ['w']);
      const keys = await keysMatching(`${lock.ns}:*`);
      expect(keys.length).toBe(6);
      expect(keys.map(slotOf)).toEqual(keys.map(() => slot));
      expect(await lock.release(held)).toBe(true);
      const got = await waiting;
      if (!got.ok) throw got.error;
      expect(await other.release(got.lease)).toBe(true);
    }
  });

  it('lists the holder and the waiters in queue order with their positions', async () => {
    const [a, b, c] = [makeLock('list'), makeLock('list'), makeLock('list')];
    expect(await a.list()).toEqual([]);
    const lease = await a.acquire('queued', { owner: 'holder', ttlMs: 1000, waitTimeoutMs: 0 });
    const alone = await b.acquire('alone', { owner: 'solo', ttlMs: 2000, waitTimeoutMs: 0 });
    const controller = new AbortController();
    const waiting: Promise<Outcome>[] = [];
    for (const [i, owner] of ['w1', 'w2', 'w3'].entries()) {
      const lock = [b, c, a][i];
      waiting.push(outcome(lock.acquire('queued', { owner, ttlMs: 1000, waitTimeoutMs: 10_000, signal: controller.signal })));
      await waitForQueue(a, 'queued', ['w1', 'w2', 'w3'].slice(0, i + 1));
      await sleep(5);
    }
    const queued = await c.list();
    expect(queued.map((l) => l.resource)).toEqual(['alone', 'queued']);
    const [aloneView, queuedView] = queued;
    expect(aloneView.holder).toMatchObject({ owner: 'solo', fence: alone.fence });
    expect(aloneView.waiters).toEqual([]);
    expect(queuedView.holder).toMatchObject({ owner: 'holder', fence: lease.fence });
    expect(queuedView.holder!.expiresInMs).toBeGreaterThan(0);
    expect(queuedView.holder!.expiresInMs).toBeLessThanOrEqual(1000);
    expect(queuedView.holder!.heldForMs).toBeGreaterThanOrEqual(0);
    expect(queuedView.waiters.map((w) => [w.owner, w.position])).toEqual([
      ['w1', 1],
      ['w2', 2],
      ['w3', 3],
    ]);
    // The order Redis keeps (the queue's scores) is the one listed.
    const ids = await admin.zrange(a.keysOf('queued')[1], 0, -1);
    expect(await Promise.all(ids.map((id) => admin.hget(`${a.ns}:w:${id}`, 'o')))).toEqual(['w1', 'w2', 'w3']);
    const waited = queuedView.waiters.map((w) => w.waitingMs);
    expect(waited.every((ms) => ms >= 0)).toBe(true);
    for (let i = 1; i < waited.length; i++) expect(waited[i]).toBeLessThan(waited[i - 1]);

    controller.abort();
    for (const result of await Promise.all(waiting)) expect(!result.ok && result.error.code).toBe(LockErrorCode.LOCK_ABORTED);
    expect(await a.release(lease)).toBe(true);
    expect(await b.release(alone)).toBe(true);
    expect(await a.list()).toEqual([]);
  });

  it(
    'refuses an acquire at once while the connection to Redis is lost, and holds nothing for it once Redis is back',
    async () => {
      restartable ??= await startRedisServer();
      const lock = makeLock('lost-connection', {}, restartable);
      const client = connections[connections.length - 2]; // the lock's command connection
      await lock.release(await lock.acquire('warm', { owner: 'o', ttlMs: 1000, waitTimeoutMs: 0 }));
      const restarted = restartable.restart(3_000);
      await waitFor(async () => client.status, (status) => status === 'reconnecting', { timeoutMs: 5_000, intervalMs: 10, what: 'the client to lose Redis' });
      const started = Date.now();
      const refused = await failure(lock.acquire('r', { owner: 'refused', ttlMs: 30_000, waitTimeoutMs: 5_000 }));
      expect(refused.code).toBe(LockErrorCode.LOCK_UNAVAILABLE);
      expect(refused.message).toMatch(/connection to Redis is lost/);
      expect(Date.now() - started).toBeLessThan(1_000); // not the 5 s call deadline
      await restarted;
      await waitFor(async () => client.status, (status) => status === 'ready', { timeoutMs: 10_000, what: 'the client to reconnect' });
      // Nothing was queued for when Redis came back: the lock is free at once, not after 30 s.
      const next = await lock.acquire('r', { owner: 'next', ttlMs: 1000, waitTimeoutMs: 0 });
      expect(await lock.release(next)).toBe(true);
    },
  );

  it(
    'releases what an acquire that timed out unanswered was granted when Redis carries it out later, after a script cache flush too',
    async () => {
      restartable ??= await startRedisServer();
      const lock = makeLock('late-grant', { callTimeoutMs: 300 }, restartable);
      const pauser = connect(restartable);
      await lock.release(await lock.acquire('warm', { owner: 'o', ttlMs: 1000, waitTimeoutMs: 0 }));
      // Redis lost its scripts (as after a restart): the late ACQUIRE and the LEAVE both come back
      // NOSCRIPT and are sent again as EVAL; the LEAVE must still run after the ACQUIRE.
      await pauser.script('FLUSH');
      await pauser.client('PAUSE', 1_000);
      const refused = await failure(lock.acquire('r', { owner: 'late', ttlMs: 30_000, waitTimeoutMs: 0 }));
      expect(refused.code).toBe(LockErrorCode.LOCK_UNAVAILABLE);
      // Once Redis answers, the grant made for nobody is released (not held for its 30 s TTL).
      await waitFor(() => lock.list(), (views) => views.length === 0, { timeoutMs: 5_000, intervalMs: 50, what: 'the late grant to be released' });
      const next = await lock.acquire('r', { owner: 'next', ttlMs: 1000, waitTimeoutMs: 0 });
      expect(next.owner).toBe('next');
      expect(await lock.release(next)).toBe(true);
    },
  );

  it(
    'survives a Redis restart: the holder is told it lost the lease, waiters finish, fences keep growing',
    async () => {
      restartable ??= await startRedisServer();
      const [a, b, c] = [makeLock('restart', {}, restartable), makeLock('restart', {}, restartable), makeLock('restart', {}, restartable)];
      const held = await a.acquire('r', { owner: 'holder', ttlMs: 500, waitTimeoutMs: 0 });
      const other = await a.acquire('other', { owner: 'holder', ttlMs: 5000, waitTimeoutMs: 0 });
      const take = (lock: RedisFairLock, owner: string, waitTimeoutMs: number) =>
        outcome(lock.acquire('r', { owner, ttlMs: 1000, waitTimeoutMs })).then(async (got) => {
          if (got.ok) await lock.release(got.lease);
          return got;
        });
      const patient = take(b, 'patient', 8000);
      await waitForQueue(a, 'r', ['patient']);
      const hasty = take(c, 'hasty', 700);
      await waitForQueue(a, 'r', ['patient', 'hasty']);
      const fenceBefore = Math.max(held.fence, other.fence);

      await restartable.restart(300);

      await waitFor(async () => held.signal.aborted && other.signal.aborted, Boolean, {
        timeoutMs: 10_000,
        intervalMs: 20,
        what: 'both leases to be lost',
      });
      for (const lease of [held, other]) {
        expect(lease.signal.reason).toBeInstanceOf(LockError);
        expect((lease.signal.reason as LockError).code).toBe(LockErrorCode.LOCK_LOST);
      }
      const [p, h] = await Promise.all([patient, hasty]);
      if (!p.ok) throw p.error; // it had 8 s, and the lock is free after the restart
      expect(p.lease.fence).toBeGreaterThan(fenceBefore);
      if (!h.ok) expect(h.error.code).toBe(LockErrorCode.LOCK_TIMEOUT);
      else expect(h.lease.fence).toBeGreaterThan(fenceBefore);

      expect(await a.release(held)).toBe(false);
      const after = await a.acquire('r', { owner: 'after', ttlMs: 1000, waitTimeoutMs: 5000 });
      expect(after.fence).toBeGreaterThan(p.lease.fence);
      expect((await view(b, 'r'))?.holder).toMatchObject({ owner: 'after', fence: after.fence });
      expect(await a.release(after)).toBe(true);
      expect(await b.list()).toEqual([]);
    },
  );
});

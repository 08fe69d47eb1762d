import { AsyncResource } from 'node:async_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { AcquireOptions, Lease, LockPort, LockView, ParkedGrantListener, ParkOptions, ParkOutcome } from '../../application/ports/lock.port';
import { canonicalLockOrder, LockError, LockErrorCode } from '../../domain/lock.errors';
import { CallDeadlines } from './call-deadlines';
import { acquireScript, LEAVE, LIST, PARK, RECHECK, releaseScript, RENEW } from './fair-lock.scripts';
import { LuaScript } from './lua-script';
import { assertRedisReachable, redisConnectionLost } from '@app/platform';
import { errorMessage } from '@app/shared';

export interface FairLockOptions {
  /** The application's key prefix (QUEUE_PREFIX). */
  prefix: string;
  /** Keys are `<prefix>:{<namespace>}:...`: one Redis Cluster hash tag per namespace. */
  namespace?: string;
  /** A waiter checks its place this often, in case a grant message was lost (default 1000). */
  recheckMs?: number;
  /** A waiter blocked this long starts searching for deadlocks at each check (default 1000). */
  deadlockCheckMs?: number;
  /** A waiter that has not checked in for this long is presumed dead and skipped (default 3 x recheckMs, at least 3000). */
  livenessMs?: number;
  /** Held leases are renewed every ttl x this (default 1/3). */
  renewFraction?: number;
  /** The deadlock search gives up after visiting this many owners (default 10000). */
  maxGraphNodes?: number;
  /** How long one Redis call may take before the waiter treats it as failed (default 5000). */
  callTimeoutMs?: number;
  /** Told about every answer to an acquire and every lost lease (metrics); must be quick and not throw. */
  observer?: FairLockObserver;
}

/** How an acquire ended. */
export type LockAcquireOutcome = 'granted' | 'timeout' | 'deadlock' | 'aborted' | 'unavailable';

export interface FairLockObserver {
  /**
   * Once per acquire that got an answer: how long it took, how it ended, and whether it found
   * the lock held (it queued behind the holder, or was refused at once).
   */
  acquired(resource: string, waitedMs: number, outcome: LockAcquireOutcome, contended: boolean): void;
  /** A held lease was lost before it was released (not: taken over by its own owner). */
  lost(resource: string): void;
}

const OUTCOME_OF: Partial<Record<LockErrorCode, LockAcquireOutcome>> = {
  [LockErrorCode.LOCK_TIMEOUT]: 'timeout',
  [LockErrorCode.LOCK_DEADLOCK]: 'deadlock',
  [LockErrorCode.LOCK_ABORTED]: 'aborted',
  [LockErrorCode.LOCK_UNAVAILABLE]: 'unavailable',
};

/** What one acquire learnt on its way, for the observer. */
interface AcquireTrace {
  contended: boolean;
}

interface Waiter {
  id: string;
  /** Set when the grant arrives (message or reply). */
  fence?: string;
  wake: () => void;
}

/** A granted lease; its AbortController is made only when someone asks for the signal. */
class FairLease implements Lease {
  private controller?: AbortController;
  private lostWith?: LockError;

  constructor(
    readonly resource: string,
    readonly owner: string,
    readonly token: string,
    readonly fence: number,
  ) {}

  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.lostWith && !this.controller.signal.aborted) this.controller.abort(this.lostWith);
    return this.controller.signal;
  }

  lose(error: LockError): void {
    this.lostWith = error;
    this.controller?.abort(error);
  }
}

interface Held {
  lease: FairLease;
  ttlMs: number;
  /** Local time at which the last successful renewal was sent. */
  renewedAt: number;
}

type Reply = (string | number)[];
/** ACQUIRE answers a grant with the bare fence, RELEASE an uncontended release with 1 or 0 (no table to build and parse). */
type ShortReply = number | Reply;

/** An ACQUIRE reply in the general shape: a bare fence is {1, fence}. */
function acquireReply(reply: ShortReply): Reply {
  return typeof reply === 'number' ? [1, reply] : reply;
}

interface FairLockCommands {
  fairLockRecheck(lock: string, queue: string, ...args: (string | number)[]): Promise<Reply>;
  fairLockLeave(lock: string, queue: string, ...args: (string | number)[]): Promise<Reply>;
  fairLockPark(lock: string, queue: string, ...args: (string | number)[]): Promise<Reply>;
  fairLockRenew(numKeys: number, ...keysAndArgs: (string | number)[]): Promise<number[]>;
  fairLockList(numKeys: number, ns: string, ...resources: string[]): Promise<string>;
}

/** ACQUIRE's mode argument by enqueue + 2 x reclaim: one argument for both. */
const ACQUIRE_MODE = ['00', '10', '01', '11'] as const;

const GRANT_AT = { acquire: 2, recheck: 3, leave: 1, release: 1, park: 3 } as const;

/**
 * The fair lock queue behind LockPort (see fair-lock.scripts.ts for the Redis side).
 *
 * Waiters queue in strict arrival order and are handed the lock directly by whoever frees
 * it; they are woken by a message on their process's channel and check their place every
 * `recheckMs` in case a message was lost. Held leases are renewed in one batched call per
 * tick; a lease found lost aborts its signal. A waiter blocked past `deadlockCheckMs`
 * searches the wait-for graph at each check; the youngest waiter of a cycle gets LOCK_DEADLOCK.
 *
 * Scripts are sent as EVALSHA and again as EVAL when Redis lost its script cache (ioredis does it
 * for the defined commands, LuaScript for the hot path's two), so they survive SCRIPT FLUSH and
 * Redis restarts.
 */
export class RedisFairLock implements LockPort {
  private readonly logger = new Logger(RedisFairLock.name);
  readonly ns: string;
  /** Identifies this instance: its grant channel, and the prefix of its waiter ids. */
  private readonly channelId = randomUUID().replace(/-/g, '').slice(0, 16);
  private nextId = 0;
  private isSubscribed = false;
  private readonly recheckMs: number;
  private readonly deadlockCheckMs: number;
  private readonly livenessMs: number;
  private readonly renewFraction: number;
  private readonly maxGraphNodes: number;
  private readonly callTimeoutMs: number;
  private readonly observer?: FairLockObserver;
  private readonly waiters = new Map<string, Waiter>();
  private readonly held = new Map<string, Held>();
  /** Places this process parked (by place id), so that a grant handed to one is told to the listeners. */
  private readonly parked = new Map<string, { resource: string; owner: string; until: number }>();
  private readonly parkListeners = new Set<ParkedGrantListener>();
  private subscribed?: Promise<void>;
  /** One timer bounds every pending Redis call (not one timer per call: the hot path makes one). */
  private readonly deadlines = new CallDeadlines('Redis');
  /** The hot path's scripts, with this namespace written in (see fair-lock.scripts.ts). */
  private readonly acquireScript: LuaScript<ShortReply>;
  private readonly releaseScript: LuaScript<ShortReply>;
  private renewTimer?: NodeJS.Timeout;
  private renewAt = Infinity;
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    options: FairLockOptions,
  ) {
    this.ns = `${options.prefix}:{${options.namespace ?? 'locks'}}`;
    this.recheckMs = options.recheckMs ?? 1000;
    this.deadlockCheckMs = options.deadlockCheckMs ?? 1000;
    this.livenessMs = options.livenessMs ?? Math.max(3 * this.recheckMs, 3000);
    this.renewFraction = options.renewFraction ?? 1 / 3;
    this.maxGraphNodes = options.maxGraphNodes ?? 10_000;
    this.callTimeoutMs = options.callTimeoutMs ?? 5000;
    this.observer = options.observer;
    this.acquireScript = new LuaScript(acquireScript(this.ns, this.livenessMs), 2);
    this.releaseScript = new LuaScript(releaseScript(this.ns), 2);
    redis.defineCommand('fairLockRecheck', { numberOfKeys: 2, lua: RECHECK });
    redis.defineCommand('fairLockLeave', { numberOfKeys: 2, lua: LEAVE });
    redis.defineCommand('fairLockPark', { numberOfKeys: 2, lua: PARK });
    redis.defineCommand('fairLockRenew', { lua: RENEW });
    redis.defineCommand('fairLockList', { lua: LIST });
    subscriber.on('message', this.onMessage);
    redis.on('ready', this.onReconnect);
  }

  /** The channel on which this instance's waiters are told about grants. */
  get channel(): string {
    return `${this.ns}:ch:${this.channelId}`;
  }

  /** Every key this lock uses for a resource and an owner (for tests and operators). */
  keysOf(resource: string, owner = 'owner'): string[] {
    return [
      this.lockKey(resource),
      this.queueKey(resource),
      `${this.ns}:w:id`,
      `${this.ns}:ow:${owner}`,
      `${this.ns}:fence`,
      `${this.ns}:seq`,
    ];
  }

  acquire(resource: string, options: AcquireOptions): Promise<Lease> {
    return this.observer ? this.acquireObserved(resource, options, this.observer) : this.acquireOnce(resource, options);
  }

  private async acquireObserved(resource: string, options: AcquireOptions, observer: FairLockObserver): Promise<Lease> {
    const started = performance.now();
    const trace: AcquireTrace = { contended: false };
    let outcome: LockAcquireOutcome | undefined;
    try {
      const lease = await this.acquireOnce(resource, options, trace);
      outcome = 'granted';
      return lease;
    } catch (err) {
      outcome = err instanceof LockError ? OUTCOME_OF[err.code] : undefined; // a TypeError is a caller's bug, not an answer
      throw err;
    } finally {
      if (outcome) this.tell(() => observer.acquired(resource, performance.now() - started, outcome!, trace.contended));
    }
  }

  private async acquireOnce(resource: string, options: AcquireOptions, trace?: AcquireTrace): Promise<Lease> {
    validate(resource, options);
    const { owner, ttlMs, waitTimeoutMs, signal } = options;
    if (signal?.aborted) throw LockError.aborted(resource, signal.reason);
    if (this.closed) throw LockError.aborted(resource, CLOSED);
    // Not queued for when Redis is back: the caller has long given up by then, and a grant made
    // for nobody would hold the lock until its TTL (see the catch below for a call that was sent).
    if (redisConnectionLost(this.redis)) throw LockError.unavailable(resource, `the connection to Redis is lost (${this.redis.status})`);
    const started = Date.now();
    const deadline = started + waitTimeoutMs;
    if (waitTimeoutMs > 0 && !this.isSubscribed) {
      try {
        await this.call(this.subscribe(), Date.now() + this.callTimeoutMs);
      } catch (err) {
        throw LockError.unavailable(resource, errorMessage(err));
      }
    }
    const id = `${this.channelId}.${this.nextId++}`;
    const waiter: Waiter = { id, wake: noop };
    this.waiters.set(id, waiter);
    try {
      let reply: Reply;
      // The first call gets callTimeoutMs whatever the wait: a slow answer is not a missing one
      // (a try-once acquire would otherwise fail after 50 ms on a cold connection or a busy loop).
      let answered = false;
      const sent = this.enqueue(resource, owner, ttlMs, id, waitTimeoutMs > 0, options.reclaim === true).finally(() => (answered = true));
      try {
        reply = acquireReply(await this.call(sent, Date.now() + this.callTimeoutMs));
        this.noteGrant(reply, GRANT_AT.acquire);
      } catch (err) {
        // Unanswered, the call may still be carried out (it waits in the client's queue, or
        // Redis is slow): leave only once it was, so that a grant it makes is released, never
        // left held for nobody. Sent now, the LEAVE could overtake it: after a Redis restart
        // both are retried as EVAL once Redis says NOSCRIPT, each on its own.
        if (answered) await this.leave(resource, id);
        else void sent.then(noop, noop).then(() => this.leave(resource, id));
        throw LockError.unavailable(resource, errorMessage(err));
      }
      if (reply[0] === 1 && !this.closed) return this.hold(resource, owner, String(reply[1]), options);
      if (trace && reply[0] !== 1) trace.contended = true;
      if (reply[0] === 0) throw LockError.timeout(resource, waitTimeoutMs);
      let pttl = Number(reply[1]);
      let position: number | undefined;
      for (;;) {
        if (this.closed) {
          // Nothing would renew a lease granted now, nor hear a grant message: give the place
          // (or a grant that arrived meanwhile) back.
          await this.leave(resource, id);
          throw LockError.aborted(resource, CLOSED);
        }
        if (waiter.fence) return this.hold(resource, owner, waiter.fence, options);
        const now = Date.now();
        if (now >= deadline || signal?.aborted) {
          await this.leave(resource, id);
          if (signal?.aborted) throw LockError.aborted(resource, signal.reason);
          throw LockError.timeout(resource, waitTimeoutMs, position);
        }
        const deadlockDue = started + this.deadlockCheckMs;
        const holderExpires = pttl > 0 ? pttl + 2 : this.recheckMs;
        const pause = Math.min(this.recheckMs, holderExpires, deadline - now, Math.max(deadlockDue - now, 0) || this.recheckMs);
        await sleepUntilWoken(waiter, pause, signal);
        if (waiter.fence || Date.now() >= deadline || signal?.aborted) continue;
        try {
          reply = await this.call(
            this.commands.fairLockRecheck(
              this.lockKey(resource),
              this.queueKey(resource),
              this.ns,
              resource,
              id,
              this.channelId,
              this.livenessMs,
              Date.now() >= deadlockDue ? 1 : 0,
              this.maxGraphNodes,
            ),
            deadline,
          );
        } catch (err) {
          this.logger.debug(`Lock check for ${resource} failed: ${errorMessage(err)}`);
          pttl = this.recheckMs;
          continue;
        }
        this.noteGrant(reply, GRANT_AT.recheck);
        switch (reply[0]) {
          case 1:
            waiter.fence = String(reply[1]);
            break;
          case 2:
            pttl = Number(reply[1]);
            position = Number(reply[2]);
            break;
          case 3: // its place expired (a long pause, or Redis lost it): queue again, at the back
            reply = acquireReply(await this.call(this.enqueue(resource, owner, ttlMs, id, true), deadline).catch(() => [2, this.recheckMs]));
            this.noteGrant(reply, GRANT_AT.acquire);
            if (reply[0] === 1) waiter.fence = String(reply[1]);
            else pttl = Number(reply[1]);
            break;
          case 4:
            throw LockError.deadlock(resource, owner, String(reply[1]));
        }
      }
    } finally {
      this.waiters.delete(id);
    }
  }

  async acquireAll(resources: readonly string[], options: AcquireOptions): Promise<Lease[]> {
    const deadline = Date.now() + options.waitTimeoutMs;
    const leases: Lease[] = [];
    try {
      for (const resource of canonicalLockOrder(resources)) {
        const waitTimeoutMs = Math.max(0, deadline - Date.now());
        leases.push(await this.acquire(resource, { ...options, waitTimeoutMs }));
      }
      return leases;
    } catch (err) {
      await Promise.all(leases.reverse().map((lease) => this.release(lease).catch(() => false)));
      throw err;
    }
  }

  /**
   * One round trip: the lock now, or the owner's place kept (see PARK). The place's id comes from
   * the owner and the resource, so that whichever process parks next keeps the same place. Grants
   * to it are told on this process's channel (subscribed here, best effort: the owner parks again
   * anyway) to the onParkedGrant listeners.
   */
  async park(resource: string, options: ParkOptions): Promise<ParkOutcome> {
    validate(resource, { ...options, waitTimeoutMs: 0 });
    for (const [name, ms] of [['placeMs', options.placeMs], ['claimMs', options.claimMs]] as const) {
      if (!Number.isInteger(ms) || ms <= 0) throw new TypeError(`lock ${resource}: ${name} must be a positive integer`);
    }
    if (this.closed) throw LockError.aborted(resource, CLOSED);
    if (redisConnectionLost(this.redis)) throw LockError.unavailable(resource, `the connection to Redis is lost (${this.redis.status})`);
    if (!this.isSubscribed) await this.call(this.subscribe(), Date.now() + this.callTimeoutMs).catch(() => undefined);
    const id = placeId(options.owner, resource);
    let reply: Reply;
    try {
      reply = await this.call(
        this.commands.fairLockPark(
          this.lockKey(resource),
          this.queueKey(resource),
          this.ns,
          resource,
          options.owner,
          options.ttlMs,
          id,
          this.channelId,
          options.placeMs,
          options.claimMs,
        ),
        Date.now() + this.callTimeoutMs,
      );
    } catch (err) {
      throw LockError.unavailable(resource, errorMessage(err));
    }
    this.noteGrant(reply, GRANT_AT.park);
    if (reply[0] === 1) {
      this.parked.delete(id);
      const waited = Math.max(0, options.waitedMs ?? 0);
      if (this.observer) this.tell(() => this.observer!.acquired(resource, waited, 'granted', waited > 0));
      return { kind: 'held', lease: this.hold(resource, options.owner, String(reply[1]), options) };
    }
    const now = Date.now();
    for (const [other, place] of this.parked) if (place.until <= now) this.parked.delete(other);
    this.parked.set(id, { resource, owner: options.owner, until: now + options.placeMs });
    return { kind: 'parked', position: Number(reply[2]) };
  }

  async unpark(resource: string, owner: string): Promise<void> {
    const id = placeId(owner, resource);
    this.parked.delete(id);
    await this.leave(resource, id);
  }

  onParkedGrant(listener: ParkedGrantListener): () => void {
    this.parkListeners.add(listener);
    return () => this.parkListeners.delete(listener);
  }

  async release(lease: Lease): Promise<boolean> {
    this.forget(lease);
    const reply = await this.releaseScript.run(
      this.redis,
      this.lockKey(lease.resource),
      this.queueKey(lease.resource),
      lease.token,
      this.channelId,
    );
    if (typeof reply === 'number') return reply === 1;
    this.noteGrant(reply, GRANT_AT.release);
    return reply[0] === 1;
  }

  /** Scans for the namespace's lock and queue keys (no index is kept), then reads them in batches. */
  async list(): Promise<LockView[]> {
    assertRedisReachable(this.redis, 'the lock list');
    const resources = new Set<string>();
    for (const kind of ['l', 'q']) {
      const prefix = `${this.ns}:${kind}:`;
      const stream = this.redis.scanStream({ match: `${escapeGlob(prefix)}*`, count: 1000 });
      for await (const keys of stream as AsyncIterable<string[]>) keys.forEach((k) => resources.add(k.slice(prefix.length)));
    }
    const all = [...resources];
    const views: LockView[] = [];
    for (let i = 0; i < all.length; i += LIST_BATCH) {
      const batch = all.slice(i, i + LIST_BATCH);
      views.push(...toViews(JSON.parse(await this.commands.fairLockList(0, this.ns, ...batch)) as ListReply));
    }
    return views.sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
  }

  /**
   * Stops renewing and listening; held leases are left to expire. Pending acquires leave
   * their queue and fail with LOCK_ABORTED.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.renewTimer);
    this.subscriber.off('message', this.onMessage);
    this.redis.off('ready', this.onReconnect);
    for (const waiter of this.waiters.values()) waiter.wake();
    if (this.subscribed) {
      // Bounded: with Redis down the command would wait in the client's offline queue forever.
      await this.call(this.subscriber.unsubscribe(this.channel), Date.now() + this.callTimeoutMs).catch(() => undefined);
    }
  }

  private get commands(): FairLockCommands {
    return this.redis as unknown as FairLockCommands;
  }

  private lockKey(resource: string): string {
    return `${this.ns}:l:${resource}`;
  }

  private queueKey(resource: string): string {
    return `${this.ns}:q:${resource}`;
  }

  /** Subscribes once; a failed attempt is forgotten so that the next acquire tries again. */
  private subscribe(): Promise<void> {
    this.subscribed ??= this.subscriber.subscribe(this.channel).then(
      () => {
        this.isSubscribed = true;
      },
      (err: unknown) => {
        this.subscribed = undefined;
        throw err;
      },
    );
    return this.subscribed;
  }

  /**
   * The connection came back: Redis may have restarted and lost every lease, so check them
   * now rather than at the next tick, before another process can be granted one of them.
   */
  private readonly onReconnect = (): void => {
    if (this.held.size > 0) void this.renewAll();
  };

  private readonly onMessage = (channel: string, message: string): void => {
    if (channel !== this.channel) return;
    const [kind, id, fence] = message.split('|');
    const waiter = this.waiters.get(id);
    if (!waiter) {
      if (kind === 'g') this.grantedToPlace(id);
      return;
    }
    if (kind === 'g') waiter.fence = fence;
    waiter.wake();
  };

  /** A lock was handed to a place this process parked: its listeners call its owner back. */
  private grantedToPlace(id: string): void {
    const place = this.parked.get(id);
    if (!place) return;
    this.parked.delete(id);
    for (const listener of this.parkListeners) this.tell(() => listener(place.resource, place.owner));
  }

  /** A grant that this process's call handed to one of its own waiters (no message is sent then). */
  private noteGrant(reply: Reply, at: number): void {
    if (reply.length < at + 3 || String(reply[at + 2]) !== this.channelId) return;
    const waiter = this.waiters.get(String(reply[at]));
    if (!waiter) return this.grantedToPlace(String(reply[at]));
    waiter.fence = String(reply[at + 1]);
    waiter.wake();
  }

  /** The ACQUIRE call, unbounded (its caller bounds it); the caller notes a grant it handed to one of this process's waiters (noteGrant). */
  private enqueue(resource: string, owner: string, ttlMs: number, id: string, wait: boolean, reclaim = false): Promise<ShortReply> {
    return this.acquireScript.run(
      this.redis,
      this.lockKey(resource),
      this.queueKey(resource),
      owner,
      ttlMs,
      id, // <channelId>.<n>: the script finds this process's channel in it
      ACQUIRE_MODE[(wait ? 1 : 0) + (reclaim ? 2 : 0)],
    );
  }

  /**
   * Leaves the queue; a grant that raced with the timeout is released and handed on. When
   * Redis cannot be reached, the call stays queued in the client and runs on reconnect.
   */
  private async leave(resource: string, id: string): Promise<void> {
    const leaving = this.commands
      .fairLockLeave(this.lockKey(resource), this.queueKey(resource), this.ns, resource, id, this.channelId)
      .then((reply) => this.noteGrant(reply, GRANT_AT.leave));
    await this.call(leaving, Date.now() + this.callTimeoutMs).catch((err) => {
      this.logger.warn(`Could not leave the queue of ${resource} yet (${errorMessage(err)}); it will when Redis is back`);
      leaving.catch(() => undefined);
    });
  }

  /** Bounds a Redis call by the waiter's deadline (and callTimeoutMs). */
  private call<T>(promise: Promise<T>, deadline: number): Promise<T> {
    return this.deadlines.bound(promise, Math.max(50, Math.min(this.callTimeoutMs, deadline - Date.now() + 50)));
  }

  private hold(resource: string, owner: string, token: string, options: Pick<AcquireOptions, 'ttlMs' | 'autoRenew'>): Lease {
    const lease = new FairLease(resource, owner, token, Number(token));
    if (options.autoRenew !== false) {
      const now = Date.now();
      this.held.set(token, { lease, ttlMs: options.ttlMs, renewedAt: now });
      this.scheduleRenewal(now + options.ttlMs * this.renewFraction);
    }
    return lease;
  }

  /** Fences are unique in a namespace, so the token alone identifies a held lease. */
  private forget(lease: Lease): void {
    this.held.delete(lease.token);
  }

  private scheduleRenewal(at: number): void {
    if (this.closed || at >= this.renewAt) return;
    clearTimeout(this.renewTimer);
    this.renewAt = at;
    // The watchdog renews every lease of the process: its timer must not carry the async context
    // (e.g. a request's correlation id, for logs) of whichever acquire happened to schedule it.
    this.renewTimer = DETACHED.runInAsyncScope(() => setTimeout(() => void this.renewAll(), Math.max(0, at - Date.now())));
    this.renewTimer.unref();
  }

  /** The watchdog's tick: every held lease in one call; lost ones abort their signal. */
  private async renewAll(): Promise<void> {
    this.renewAt = Infinity;
    const batch = [...this.held.values()];
    if (batch.length === 0) return;
    const sentAt = Date.now();
    const keys = batch.map((h) => this.lockKey(h.lease.resource));
    const args = batch.flatMap((h) => [h.lease.token, h.ttlMs, h.lease.owner]);
    const shortest = Math.min(...batch.map((h) => h.ttlMs));
    try {
      const renewed = await this.call(this.commands.fairLockRenew(keys.length, ...keys, this.ns, ...args), sentAt + shortest);
      batch.forEach((h, i) => {
        if (renewed[i] === 1) h.renewedAt = sentAt;
        else if (renewed[i] === 2) this.lose(h, 'a newer run of the same owner took it over', true);
        else this.lose(h, 'it expired or was taken over before it could be renewed');
      });
    } catch (err) {
      for (const h of batch) {
        if (Date.now() - h.renewedAt >= h.ttlMs) this.lose(h, `not renewed within its TTL: ${errorMessage(err)}`);
      }
    }
    if (this.held.size > 0) {
      const next = Math.min(...[...this.held.values()].map((h) => h.ttlMs * this.renewFraction));
      this.scheduleRenewal(Date.now() + Math.max(10, next));
    }
  }

  private lose(held: Held, why: string, takenOver = false): void {
    if (this.held.get(held.lease.token) !== held) return;
    this.held.delete(held.lease.token);
    const error = LockError.lost(held.lease.resource, held.lease.fence, why, takenOver);
    this.logger.warn(error.message);
    // A takeover by the same owner (a resumed run) is not a loss anyone else could write through.
    if (this.observer && !takenOver) this.tell(() => this.observer!.lost(held.lease.resource));
    held.lease.lose(error);
  }

  /** An observer's failure must never change a lock's answer. */
  private tell(notify: () => void): void {
    try {
      notify();
    } catch (err) {
      this.logger.debug(`Lock observer failed: ${errorMessage(err)}`);
    }
  }
}

interface ListReply {
  now: number;
  locks:
    | {
        resource: string;
        holder: { owner: string; fence: string; since: number; ttl: number } | null;
        waiters: { owner: string; since: number }[] | Record<string, never>;
      }[]
    | Record<string, never>;
}

function toViews(raw: ListReply): LockView[] {
  const locks = Array.isArray(raw.locks) ? raw.locks : [];
  return locks.map((lock) => ({
      resource: lock.resource,
      holder:
        lock.holder && typeof lock.holder === 'object'
          ? {
              owner: lock.holder.owner,
              fence: Number(lock.holder.fence),
              heldForMs: Math.max(0, raw.now - lock.holder.since),
              expiresInMs: Math.max(0, lock.holder.ttl),
            }
          : null,
      waiters: (Array.isArray(lock.waiters) ? lock.waiters : []).map((w, i) => ({
        owner: w.owner,
        position: i + 1,
        waitingMs: Math.max(0, raw.now - w.since),
      })),
    }));
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

const LIST_BATCH = 500;

function validate(resource: string, options: Pick<AcquireOptions, 'owner' | 'ttlMs' | 'waitTimeoutMs'>): void {
  if (!resource) throw new TypeError('a lock needs a resource name');
  if (!options.owner) throw new TypeError(`lock ${resource}: an owner is required`);
  if (!Number.isInteger(options.ttlMs) || options.ttlMs <= 0) throw new TypeError(`lock ${resource}: ttlMs must be a positive integer`);
  if (!(options.waitTimeoutMs >= 0)) throw new TypeError(`lock ${resource}: waitTimeoutMs must be 0 or more`);
}

/** A place's id: the same for an owner and a resource whichever process parks it (`p.` sets it apart from waiter ids). */
function placeId(owner: string, resource: string): string {
  return `p.${createHash('sha256').update(`${owner}\n${resource}`).digest('hex').slice(0, 32)}`;
}

function sleepUntilWoken(waiter: Waiter, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      waiter.wake = noop;
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    waiter.wake = done;
    signal?.addEventListener('abort', done, { once: true });
    if (waiter.fence) done();
  });
}

function noop(): void {}

const CLOSED = new Error('the lock client was closed');

/** Made at load time, outside any request: the async context of the renewal watchdog. */
const DETACHED = new AsyncResource('FairLockWatchdog');


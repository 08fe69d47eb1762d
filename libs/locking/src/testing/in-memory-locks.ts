import { AcquireOptions, Lease, LockPort, LockView, ParkedGrantListener, ParkOptions, ParkOutcome } from '../application/ports/lock.port';
import { canonicalLockOrder, LockError } from '../domain/lock.errors';

interface Waiting {
  owner: string;
  since: number;
  grant: (fence: number) => void;
  /** A parked place (no promise waits on it): granted, the lock is held for its owner to take. */
  parked?: boolean;
}

/**
 * A FIFO lock in one process, for unit tests of code that uses LockPort: same errors and
 * queueing rules as the Redis lock (parked places included), without TTLs, renewal or deadlock
 * detection. A grant handed to a place is held until its owner parks again, or expire().
 */
export class InMemoryLocks implements LockPort {
  private fence = 0;
  readonly holders = new Map<string, { owner: string; fence: number; since: number; controller: AbortController; toPlace?: boolean }>();
  private readonly queues = new Map<string, Waiting[]>();
  private readonly parkListeners = new Set<ParkedGrantListener>();

  async acquire(resource: string, options: AcquireOptions): Promise<Lease> {
    if (options.signal?.aborted) throw LockError.aborted(resource, options.signal.reason);
    const previous = this.holders.get(resource);
    if (options.reclaim && previous?.owner === options.owner) {
      const lease = this.grant(resource, options.owner);
      previous.controller.abort(LockError.lost(resource, previous.fence, 'reclaimed by its owner', true));
      return lease;
    }
    if (!this.holders.has(resource) && !this.queues.get(resource)?.length) return this.grant(resource, options.owner);
    if (options.waitTimeoutMs <= 0) throw LockError.timeout(resource, options.waitTimeoutMs);
    return new Promise<Lease>((resolve, reject) => {
      const queue = this.queues.get(resource) ?? [];
      this.queues.set(resource, queue);
      const leave = (error: LockError) => {
        clearTimeout(timer);
        queue.splice(queue.indexOf(entry), 1);
        reject(error);
      };
      const timer = setTimeout(() => leave(LockError.timeout(resource, options.waitTimeoutMs)), options.waitTimeoutMs);
      const onAbort = () => leave(LockError.aborted(resource, options.signal?.reason));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const entry: Waiting = {
        owner: options.owner,
        since: Date.now(),
        grant: () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve(this.grant(resource, options.owner));
        },
      };
      queue.push(entry);
    });
  }

  async acquireAll(resources: readonly string[], options: AcquireOptions): Promise<Lease[]> {
    const leases: Lease[] = [];
    try {
      for (const resource of canonicalLockOrder(resources)) leases.push(await this.acquire(resource, options));
      return leases;
    } catch (err) {
      await Promise.all(leases.map((lease) => this.release(lease)));
      throw err;
    }
  }

  async park(resource: string, options: ParkOptions): Promise<ParkOutcome> {
    const queue = this.queues.get(resource) ?? [];
    this.queues.set(resource, queue);
    const own = queue.findIndex((w) => w.parked && w.owner === options.owner);
    const holder = this.holders.get(resource);
    if (holder?.owner === options.owner || (!holder && queue.length === 0) || (!holder && own === 0)) {
      if (own >= 0) queue.splice(own, 1);
      holder?.controller.abort(LockError.lost(resource, holder.fence, 'taken over by its owner', true));
      return { kind: 'held', lease: this.grant(resource, options.owner) };
    }
    if (own >= 0) return { kind: 'parked', position: own + 1 };
    const place: Waiting = {
      owner: options.owner,
      since: Date.now(),
      parked: true,
      grant: () => {
        this.grant(resource, options.owner, true);
        for (const listener of this.parkListeners) listener(resource, options.owner);
      },
    };
    queue.push(place);
    return { kind: 'parked', position: queue.length };
  }

  async unpark(resource: string, owner: string): Promise<void> {
    const queue = this.queues.get(resource) ?? [];
    const own = queue.findIndex((w) => w.parked && w.owner === owner);
    if (own >= 0) queue.splice(own, 1);
    // A grant handed to the place and not taken yet goes to the next in line.
    const holder = this.holders.get(resource);
    if (holder?.owner === owner && holder.toPlace) this.expire(resource);
  }

  onParkedGrant(listener: ParkedGrantListener): () => void {
    this.parkListeners.add(listener);
    return () => this.parkListeners.delete(listener);
  }

  async release(lease: Lease): Promise<boolean> {
    const holder = this.holders.get(lease.resource);
    if (!holder || holder.fence !== lease.fence) return false;
    this.holders.delete(lease.resource);
    this.queues.get(lease.resource)?.shift()?.grant(0);
    return true;
  }

  /** Takes a lease away from its holder, and tells it, as the watchdog does after a Redis restart. */
  lose(resource: string): void {
    const holder = this.holders.get(resource);
    this.expire(resource);
    holder?.controller.abort(LockError.lost(resource, holder.fence, 'taken away by the test'));
  }

  /** The lease runs out without its holder noticing (its process is dead or paused); the next waiter gets it. */
  expire(resource: string): void {
    if (!this.holders.delete(resource)) return;
    this.queues.get(resource)?.shift()?.grant(0);
  }

  async list(): Promise<LockView[]> {
    const now = Date.now();
    const resources = new Set([...this.holders.keys(), ...[...this.queues].filter(([, q]) => q.length).map(([r]) => r)]);
    return [...resources].sort().map((resource) => {
      const holder = this.holders.get(resource);
      return {
        resource,
        holder: holder ? { owner: holder.owner, fence: holder.fence, heldForMs: now - holder.since, expiresInMs: 0 } : null,
        waiters: (this.queues.get(resource) ?? []).map((w, i) => ({ owner: w.owner, position: i + 1, waitingMs: now - w.since })),
      };
    });
  }

  private grant(resource: string, owner: string, toPlace = false): Lease {
    const fence = ++this.fence;
    const controller = new AbortController();
    this.holders.set(resource, { owner, fence, since: Date.now(), controller, toPlace });
    return { resource, owner, token: String(fence), fence, signal: controller.signal };
  }
}

/**
 * A granted lock. `fence` grows strictly for every grant of a resource (it is never reused,
 * not even after a Redis restart), so a store that remembers the highest fence it has seen
 * can refuse a late write from a holder that lost its lease.
 */
export interface Lease {
  resource: string;
  owner: string;
  /** The fence as a string: identifies this grant; only its holder can release it. */
  token: string;
  fence: number;
  /** Aborted (with a LockError LOCK_LOST as reason) when the lease is lost before release. */
  signal: AbortSignal;
}

export interface AcquireOptions {
  /**
   * Who holds or waits: one logical actor (a request, a session run). Deadlock detection
   * builds its wait-for graph from owners, so two independent operations must not share one.
   */
  owner: string;
  /** The lease expires after this long (by Redis's clock) unless renewed or released. */
  ttlMs: number;
  /** Give up with LOCK_TIMEOUT after waiting this long; 0 tries once. */
  waitTimeoutMs: number;
  /** Stops waiting (LOCK_ABORTED); the waiter leaves the queue. */
  signal?: AbortSignal;
  /** Renew the lease in the background until it is released (default true). */
  autoRenew?: boolean;
  /**
   * When this owner already holds the resource (an earlier process of the same owner died
   * holding it), take the grant over at once with a new fence instead of queueing behind it.
   */
  reclaim?: boolean;
}

export interface LockHolderView {
  owner: string;
  fence: number;
  heldForMs: number;
  expiresInMs: number;
}

export interface LockWaiterView {
  owner: string;
  position: number;
  waitingMs: number;
}

export interface LockView {
  resource: string;
  holder: LockHolderView | null;
  waiters: LockWaiterView[];
}

export interface LockPort {
  /** Waits its turn (strict FIFO) for one resource. */
  acquire(resource: string, options: AcquireOptions): Promise<Lease>;
  /**
   * Takes several resources in one canonical order (so that two callers asking for the same
   * set can never deadlock each other); on failure, releases the ones it got and throws.
   * The wait timeout covers the whole call.
   */
  acquireAll(resources: readonly string[], options: AcquireOptions): Promise<Lease[]>;
  /** Releases only when the lease is still the current grant; returns whether it did. */
  release(lease: Lease): Promise<boolean>;
  /** Every held or awaited lock with its holder and waiters in queue order, for operators. */
  list(): Promise<LockView[]>;
}

export const LOCK_PORT = Symbol('LOCK_PORT');

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

/**
 * A place in a resource's FIFO queue kept for an owner that does not wait in a process (a job
 * that gave its worker back and comes back later). The lock is handed to the place in turn like
 * to any waiter; the owner takes it when it parks again (or it passes on after claimMs).
 */
export interface ParkOptions {
  owner: string;
  /** The lease's TTL once the owner takes it. */
  ttlMs: number;
  /** The place is kept this long; parking again keeps it (and its position) longer. */
  placeMs: number;
  /** A grant handed to the place waits this long for its owner to come and take it. */
  claimMs: number;
  /** Renew the lease in the background until it is released (default true). */
  autoRenew?: boolean;
  /** How long the owner has waited for this lock so far (since its first park), reported with a grant (the lock wait metric). Default 0. */
  waitedMs?: number;
}

/**
 * held: the owner has the lease (the lock was free with nobody queued ahead, was handed to its
 * place, or was still held by the same owner: taken over with a new fence, as with reclaim).
 * parked: its place is kept at `position` (1 = next).
 */
export type ParkOutcome = { kind: 'held'; lease: Lease } | { kind: 'parked'; position: number };

/** Told that a lock was handed to a place parked by this process: its owner should come and take it. */
export type ParkedGrantListener = (resource: string, owner: string) => void;

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
  /**
   * Takes the lock at once, or keeps the owner's place in the queue and returns; never waits.
   * One place per owner and resource: parking again keeps its position.
   */
  park(resource: string, options: ParkOptions): Promise<ParkOutcome>;
  /** Gives up the owner's place; a grant handed to the place meanwhile is released and handed on. Best effort. */
  unpark(resource: string, owner: string): Promise<void>;
  /** Listens for grants handed to places this process parked; returns the function that stops listening. */
  onParkedGrant(listener: ParkedGrantListener): () => void;
  /** Releases only when the lease is still the current grant; returns whether it did. */
  release(lease: Lease): Promise<boolean>;
  /** Every held or awaited lock with its holder and waiters in queue order, for operators. */
  list(): Promise<LockView[]>;
}

export const LOCK_PORT = Symbol('LOCK_PORT');

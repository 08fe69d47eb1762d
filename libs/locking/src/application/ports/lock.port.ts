/** A granted lock. The token identifies this grant; only its holder can release it. */
export interface Lease {
  resource: string;
  owner: string;
  token: string;
}

export interface AcquireOptions {
  /** Who holds it (a process or request id), for operators. */
  owner: string;
  /** The lease expires after this long unless released (or renewed). */
  ttlMs: number;
  /** Give up with LOCK_TIMEOUT after waiting this long; 0 tries once. */
  waitTimeoutMs: number;
}

export interface LockPort {
  acquire(resource: string, options: AcquireOptions): Promise<Lease>;
  /** Releases only when the lease is still the current grant; returns whether it did. */
  release(lease: Lease): Promise<boolean>;
}

export const LOCK_PORT = Symbol('LOCK_PORT');

import type { ModelMark, ModelMarkKind } from '../../domain/capacity';

/** A concurrency bucket to take a slot in: a rule's pattern and its limit. */
export interface ConcurrencyBucket {
  pattern: string;
  limit: number;
}

export interface AcquireRequest {
  sessionId: string;
  model: string;
  buckets: ConcurrencyBucket[];
  /** a slot taken or renewed is held this long */
  holdMs: number;
  /** a refused session counts as waiting for this long */
  waitMs: number;
}

/** What one atomic acquire found. */
export type AcquireResult =
  | { outcome: 'marked'; mark: ModelMark }
  | { outcome: 'full'; pattern: string; limit: number; inUse: number; waiting: number }
  /** `already`: the session held a slot in every bucket before (an idempotent repeat) */
  | { outcome: 'granted'; already: boolean };

export interface MarkRequest {
  model: string;
  kind: ModelMarkKind;
  until: Date;
  why: string;
}

/**
 * The shared state of concurrency slots and model marks (every worker sees the same), each
 * operation atomic. Expiry is the store's: a slot not renewed and a mark past its end vanish.
 */
export interface CapacityStorePort {
  /** The model's mark, else a slot in every bucket or none (the first full one is named). */
  acquire(request: AcquireRequest): Promise<AcquireResult>;
  renew(sessionId: string, patterns: string[], holdMs: number): Promise<void>;
  release(sessionId: string, patterns: string[]): Promise<void>;
  /** Marks the model unless a mark there ends later (a cooldown never shortens a longer hold); answers the mark in force. */
  mark(request: MarkRequest): Promise<ModelMark>;
  /** Counts one rate-limit answer for the model; answers how many it got within `windowMs`. */
  countRateLimit(model: string, windowMs: number): Promise<number>;
  /** The marks in force of these models (those unmarked left out). */
  marksOf(models: string[]): Promise<ModelMark[]>;
  /** Every mark in force. */
  marks(): Promise<ModelMark[]>;
  /** false when the model had no mark. */
  clearMark(model: string): Promise<boolean>;
  /** Holders and waiters of these buckets now. */
  occupancy(patterns: string[]): Promise<Map<string, { holders: string[]; waiting: number }>>;
}

export const CAPACITY_STORE = Symbol('CAPACITY_STORE');

import { DomainError } from '@app/shared';

export enum LockErrorCode {
  /** The lock was not granted within the wait timeout; retryable. */
  LOCK_TIMEOUT = 'LOCK_TIMEOUT',
  /** This waiter was chosen as the victim of a deadlock (the youngest waiter of a cycle); retryable. */
  LOCK_DEADLOCK = 'LOCK_DEADLOCK',
  /** A held lease expired or vanished (Redis restart, a long pause) before it was released. */
  LOCK_LOST = 'LOCK_LOST',
  /** The caller stopped waiting (its AbortSignal fired). */
  LOCK_ABORTED = 'LOCK_ABORTED',
  /** Redis did not answer; retryable. */
  LOCK_UNAVAILABLE = 'LOCK_UNAVAILABLE',
}

export class LockError extends DomainError<LockErrorCode> {
  constructor(
    readonly code: LockErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { retryable?: boolean; retryAfterSeconds?: number },
  ) {
    super(message, details, options);
  }

  static timeout(resource: string, waitTimeoutMs: number, position?: number): LockError {
    return new LockError(
      LockErrorCode.LOCK_TIMEOUT,
      `${resource} is locked by another operation; not granted within ${waitTimeoutMs} ms`,
      position === undefined ? { resource, waitTimeoutMs } : { resource, waitTimeoutMs, position },
      { retryable: true, retryAfterSeconds: 1 },
    );
  }

  static deadlock(resource: string, owner: string, cycle: string): LockError {
    return new LockError(
      LockErrorCode.LOCK_DEADLOCK,
      `waiting for ${resource} would deadlock (${cycle}); ${owner} was chosen as the victim, release its locks and retry`,
      { resource, owner, cycle },
      { retryable: true, retryAfterSeconds: 1 },
    );
  }

  /** takenOver: the same owner holds it again under a newer grant (see AcquireOptions.reclaim). */
  static lost(resource: string, fence: number, why: string, takenOver = false): LockError {
    return new LockError(LockErrorCode.LOCK_LOST, `the lease on ${resource} (fence ${fence}) was lost: ${why}`, {
      resource,
      fence,
      takenOver,
    });
  }

  /** Whether a LOCK_LOST means the same owner took the lock over (nobody else can write). */
  static isTakeover(reason: unknown): boolean {
    return reason instanceof LockError && reason.code === LockErrorCode.LOCK_LOST && reason.details?.takenOver === true;
  }

  static unavailable(resource: string, why: string): LockError {
    return new LockError(
      LockErrorCode.LOCK_UNAVAILABLE,
      `could not ask for ${resource}: the lock store (Redis) did not answer (${why})`,
      { resource },
      { retryable: true, retryAfterSeconds: 5 },
    );
  }

  static aborted(resource: string, reason: unknown): LockError {
    const why = reason instanceof Error ? reason.message : String(reason ?? 'aborted');
    return new LockError(LockErrorCode.LOCK_ABORTED, `stopped waiting for ${resource}: ${why}`, { resource });
  }
}

/** The canonical order in which acquireAll takes locks: unique, by code point. */
export function canonicalLockOrder(resources: readonly string[]): string[] {
  return [...new Set(resources)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

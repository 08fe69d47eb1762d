import { DomainError } from '@app/shared';

export enum LockErrorCode {
  /** The lock was not granted within the wait timeout; retryable. */
  LOCK_TIMEOUT = 'LOCK_TIMEOUT',
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

  static timeout(resource: string, waitTimeoutMs: number): LockError {
    return new LockError(
      LockErrorCode.LOCK_TIMEOUT,
      `${resource} is locked by another operation; not granted within ${waitTimeoutMs} ms`,
      { resource, waitTimeoutMs },
      { retryable: true, retryAfterSeconds: 1 },
    );
  }
}

import { DomainError } from '@app/shared';

export enum AuthErrorCode {
  /** No API key has this id. */
  KEY_NOT_FOUND = 'KEY_NOT_FOUND',
  /** A field of a new key breaks a rule (details.field names it): an empty name, an expiry in the past. */
  KEY_INVALID = 'KEY_INVALID',
  /** The key changed while it was being revoked (retryable). */
  KEY_VERSION_CONFLICT = 'KEY_VERSION_CONFLICT',
}

export class AuthError extends DomainError<AuthErrorCode> {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { retryable?: boolean },
  ) {
    super(message, details, options);
  }

  static notFound(id: string): AuthError {
    return new AuthError(AuthErrorCode.KEY_NOT_FOUND, `API key ${id} not found`, { id });
  }

  static invalid(field: string, message: string, value?: unknown): AuthError {
    return new AuthError(AuthErrorCode.KEY_INVALID, `${field} ${message}`, { field, value });
  }

  static versionConflict(id: string, expectedVersion: number): AuthError {
    return new AuthError(
      AuthErrorCode.KEY_VERSION_CONFLICT,
      `API key ${id} was changed by someone else (expected version ${expectedVersion}); retry`,
      { id, expectedVersion },
      { retryable: true },
    );
  }
}

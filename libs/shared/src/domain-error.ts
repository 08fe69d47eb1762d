/**
 * Base class of every error the domain raises on purpose. Each bounded context
 * declares its own string enum of codes; the HTTP layer maps every code of every
 * enum to a status code in one exhaustive table.
 */
export abstract class DomainError<Code extends string = string> extends Error {
  abstract readonly code: Code;
  /** True when the same request may succeed later (lock contention, a timeout). */
  readonly retryable: boolean;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
    options: { retryable?: boolean; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable ?? false;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Codes that do not belong to a single context. */
export enum CommonErrorCode {
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  NOT_FOUND = 'NOT_FOUND',
  UNAUTHORIZED = 'UNAUTHORIZED',
  /** The key is valid but its role is below the route's (the message names the role needed). */
  FORBIDDEN = 'FORBIDDEN',
  INTERNAL = 'INTERNAL',
  /** PostgreSQL cannot be reached (refused, lost, shutting down): 503, retry later. */
  DATABASE_UNAVAILABLE = 'DATABASE_UNAVAILABLE',
  /** Redis cannot be reached: 503, retry later. */
  REDIS_UNAVAILABLE = 'REDIS_UNAVAILABLE',
}

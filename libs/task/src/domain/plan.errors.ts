import { DomainError } from '@app/shared';

export enum PlanErrorCode {
  PLAN_NOT_FOUND = 'PLAN_NOT_FOUND',
  /** The plan or one of its tasks was changed by someone else since it was read. */
  PLAN_VERSION_CONFLICT = 'PLAN_VERSION_CONFLICT',
  /** The command does not fit the plan's status: run a plan that is not DRAFT, cancel a finished one. */
  PLAN_INVALID_STATE = 'PLAN_INVALID_STATE',
}

export class PlanError extends DomainError<PlanErrorCode> {
  constructor(
    readonly code: PlanErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { retryable?: boolean },
  ) {
    super(message, details, options);
  }

  static notFound(id: string): PlanError {
    return new PlanError(PlanErrorCode.PLAN_NOT_FOUND, `Plan ${id} not found`, { id });
  }

  static versionConflict(what: string, id: string, expectedVersion: number): PlanError {
    return new PlanError(
      PlanErrorCode.PLAN_VERSION_CONFLICT,
      `${what} ${id} was changed by someone else (expected version ${expectedVersion}); reload and retry`,
      { id, expectedVersion },
      { retryable: true },
    );
  }

  static invalidState(id: string, status: string, action: string): PlanError {
    return new PlanError(PlanErrorCode.PLAN_INVALID_STATE, `Plan ${id} is ${status}: cannot ${action} it`, { id, status, action });
  }
}

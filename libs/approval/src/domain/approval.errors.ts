import { DomainError } from '@app/shared';

export enum ApprovalErrorCode {
  APPROVAL_NOT_FOUND = 'APPROVAL_NOT_FOUND',
  /** Answered, expired or cancelled already: an approval is decided once. */
  APPROVAL_ALREADY_DECIDED = 'APPROVAL_ALREADY_DECIDED',
  /** Changed by another process between read and write (retryable). */
  APPROVAL_VERSION_CONFLICT = 'APPROVAL_VERSION_CONFLICT',
}

export class ApprovalError extends DomainError<ApprovalErrorCode> {
  constructor(
    readonly code: ApprovalErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { retryable?: boolean },
  ) {
    super(message, details, options);
  }

  static notFound(id: string): ApprovalError {
    return new ApprovalError(ApprovalErrorCode.APPROVAL_NOT_FOUND, `Approval ${id} not found`, { id });
  }

  static alreadyDecided(id: string, status: string, decidedBy: string | null): ApprovalError {
    return new ApprovalError(
      ApprovalErrorCode.APPROVAL_ALREADY_DECIDED,
      `Approval ${id} is ${status} already${decidedBy ? ` (decided by ${decidedBy})` : ''}; it cannot be answered again`,
      { id, status, decidedBy },
    );
  }

  static versionConflict(id: string, expectedVersion: number): ApprovalError {
    return new ApprovalError(
      ApprovalErrorCode.APPROVAL_VERSION_CONFLICT,
      `Approval ${id} was changed by someone else (expected version ${expectedVersion}); read it again`,
      { id, expectedVersion },
      { retryable: true },
    );
  }
}

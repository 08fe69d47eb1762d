import { DomainError } from '@app/shared';

export enum CapacityErrorCode {
  /** The model is neither cooling down nor marked unavailable. */
  CAPACITY_MARK_NOT_FOUND = 'CAPACITY_MARK_NOT_FOUND',
}

export class CapacityError extends DomainError<CapacityErrorCode> {
  constructor(
    readonly code: CapacityErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(message, details);
  }

  static markNotFound(model: string): CapacityError {
    return new CapacityError(CapacityErrorCode.CAPACITY_MARK_NOT_FOUND, `${model} is neither cooling down nor marked unavailable`, { model });
  }
}

import { DomainError } from '@app/shared';

export enum FleetErrorCode {
  /** No worker lists an OpenCode server with that id, or the one listed is STOPPED (its worker gone or it was replaced). */
  SERVER_NOT_FOUND = 'SERVER_NOT_FOUND',
}

export class FleetError extends DomainError<FleetErrorCode> {
  constructor(
    readonly code: FleetErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(message, details);
  }

  static serverNotFound(id: string): FleetError {
    return new FleetError(FleetErrorCode.SERVER_NOT_FOUND, `OpenCode server ${id} not found: no worker lists it, or it is STOPPED (GET /api/v1/servers lists them)`, { id });
  }
}

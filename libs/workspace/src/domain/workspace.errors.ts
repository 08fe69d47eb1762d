import { DomainError } from '@app/shared';

export enum WorkspaceErrorCode {
  /** Not an absolute path, missing, or not a directory. */
  WORKSPACE_INVALID = 'WORKSPACE_INVALID',
  /** Resolves outside WORKSPACE_ROOTS or the key's roots, or onto a directory that is never a workspace. */
  WORKSPACE_OUTSIDE_ROOTS = 'WORKSPACE_OUTSIDE_ROOTS',
}

export class WorkspaceError extends DomainError<WorkspaceErrorCode> {
  constructor(
    readonly code: WorkspaceErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(message, details);
  }
}

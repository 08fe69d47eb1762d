import { DomainError } from '@app/shared';

export enum WorkspaceErrorCode {
  /** Not an absolute path, missing, or not a directory. */
  WORKSPACE_INVALID = 'WORKSPACE_INVALID',
  /** Resolves outside WORKSPACE_ROOTS or the key's roots, or onto a directory that is never a workspace. */
  WORKSPACE_OUTSIDE_ROOTS = 'WORKSPACE_OUTSIDE_ROOTS',
  /** A branch or commit name git would not take, or would read as an option. */
  GIT_REF_INVALID = 'GIT_REF_INVALID',
  /** The repository's config would make the orchestrator's git run a program (filters, hooks, drivers, includes). */
  GIT_REPOSITORY_UNSAFE = 'GIT_REPOSITORY_UNSAFE',
  /** A git command failed (the message carries git's own). */
  GIT_FAILED = 'GIT_FAILED',
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

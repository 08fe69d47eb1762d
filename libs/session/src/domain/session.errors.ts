import { DomainError } from '@app/shared';

export enum SessionErrorCode {
  SESSION_NOT_FOUND = 'SESSION_NOT_FOUND',
  INVALID_TRANSITION = 'INVALID_TRANSITION',
  VERSION_CONFLICT = 'VERSION_CONFLICT',
  SESSION_RUNNING = 'SESSION_RUNNING',
  INVALID_CURSOR = 'INVALID_CURSOR',
  /** agentId, role and agent were combined in a way that names two different choices. */
  AGENT_CHOICE_CONFLICT = 'AGENT_CHOICE_CONFLICT',
  /** isolation, baseRef or mergeIn that cannot be honoured (details.field names which). */
  ISOLATION_INVALID = 'ISOLATION_INVALID',
  /** isolation "worktree" for a workspace that is not inside a git work tree. */
  WORKSPACE_NOT_GIT = 'WORKSPACE_NOT_GIT',
  /** A branch operation (diff, merge, discard) on a session that shares its workspace. */
  NO_WORKTREE = 'NO_WORKTREE',
  /** The session's branch was merged, discarded or expired already. */
  WORKTREE_GONE = 'WORKTREE_GONE',
  /** The merge would conflict; nothing was changed (details.files). */
  MERGE_CONFLICT = 'MERGE_CONFLICT',
  /** The target branch's work tree has uncommitted changes; nothing was changed (details.files). */
  WORKSPACE_DIRTY = 'WORKSPACE_DIRTY',
  /** No target given and the repository's HEAD is detached, or the target is not a branch. */
  MERGE_TARGET_INVALID = 'MERGE_TARGET_INVALID',
}

export class SessionError extends DomainError<SessionErrorCode> {
  constructor(
    readonly code: SessionErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { retryable?: boolean; retryAfterSeconds?: number },
  ) {
    super(message, details, options);
  }

  static notFound(id: string): SessionError {
    return new SessionError(SessionErrorCode.SESSION_NOT_FOUND, `Session ${id} not found`, { id });
  }

  static versionConflict(id: string, expectedVersion: number): SessionError {
    return new SessionError(
      SessionErrorCode.VERSION_CONFLICT,
      `Session ${id} was changed by someone else (expected version ${expectedVersion}); reload and retry`,
      { id, expectedVersion },
      { retryable: true },
    );
  }
}

/**
 * Why a run ended other than COMPLETED; recorded in session.error.code.
 * Codes coming from the coding agent (PROVIDER_ERROR, OPENCODE_ERROR, ...) are passed through as they are.
 */
export enum RunFailureCode {
  WORKER_LOST = 'WORKER_LOST',
  TIMED_OUT = 'TIMED_OUT',
  CANCELLED = 'CANCELLED',
  WORKSPACE_MISSING = 'WORKSPACE_MISSING',
  /** At run time the workspace resolved outside WORKSPACE_ROOTS (e.g. a symlink swapped after creation). */
  WORKSPACE_OUTSIDE_ROOTS = 'WORKSPACE_OUTSIDE_ROOTS',
  OPENCODE_UNAVAILABLE = 'OPENCODE_UNAVAILABLE',
  /** Other sessions held the session's workspace for its whole timeout; it never ran. */
  WORKSPACE_BUSY = 'WORKSPACE_BUSY',
  /** The run lost its workspace lock (Redis restart, long pause) and was stopped before another session could write there. */
  WORKSPACE_LOCK_LOST = 'WORKSPACE_LOCK_LOST',
  /** The session's worktree could not be prepared, or its work could not be committed (git's message says why). */
  WORKTREE_FAILED = 'WORKTREE_FAILED',
  /** A resolver session ended with conflict markers still in the files it was to resolve. */
  MERGE_CONFLICT_UNRESOLVED = 'MERGE_CONFLICT_UNRESOLVED',
}

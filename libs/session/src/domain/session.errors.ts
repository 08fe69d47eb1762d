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
  /** A budget that is not {maxTokens?, maxCostUsd?, maxMinutes?} with positive limits (details.field names which). */
  BUDGET_INVALID = 'BUDGET_INVALID',
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
  /** A budget (the session's, its plan's, its agent's or its API key's) was reached: the turn was stopped at once; not retried automatically. */
  BUDGET_EXCEEDED = 'BUDGET_EXCEEDED',
  /** The turn took more model steps than its limit (the agent's binding.maxSteps, else TURN_MAX_STEPS). */
  STEP_LIMIT = 'STEP_LIMIT',
  /** The turn repeated the same tool call (same tool, same input) DOOM_LOOP_REPEATS times. */
  DOOM_LOOP = 'DOOM_LOOP',
  /** The turn showed no progress (no text, tool call or step) for NO_PROGRESS_SECONDS. */
  NO_PROGRESS = 'NO_PROGRESS',
  /** The model's quota is exhausted (insufficient_quota, or a Retry-After beyond an hour) and no fallback model was usable. */
  PROVIDER_QUOTA_EXHAUSTED = 'PROVIDER_QUOTA_EXHAUSTED',
}

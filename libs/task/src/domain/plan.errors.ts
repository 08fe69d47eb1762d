import { DomainError } from '@app/shared';

export enum PlanErrorCode {
  PLAN_NOT_FOUND = 'PLAN_NOT_FOUND',
  /** The plan or one of its tasks was changed by someone else since it was read. */
  PLAN_VERSION_CONFLICT = 'PLAN_VERSION_CONFLICT',
  /** The command does not fit the plan's status: run a plan that is not DRAFT, cancel a finished one. */
  PLAN_INVALID_STATE = 'PLAN_INVALID_STATE',
  /** A merge of a plan that has no integration branch (its workspace is not in a git work tree). */
  PLAN_NOT_ISOLATED = 'PLAN_NOT_ISOLATED',
  /** A field of a plan command is invalid (details.field, e.g. "budget.maxCostUsd"): the common code's string. */
  VALIDATION_FAILED = 'VALIDATION_FAILED',
  // The next three are the session merge's codes too (one concept, one name): the same strings.
  /** Merging the plan's branch would conflict; nothing was changed (details.files). */
  MERGE_CONFLICT = 'MERGE_CONFLICT',
  /** The target branch's work tree has uncommitted changes; nothing was changed (details.files). */
  WORKSPACE_DIRTY = 'WORKSPACE_DIRTY',
  /** No target given and the repository's HEAD is detached, or the target is not another branch of it. */
  MERGE_TARGET_INVALID = 'MERGE_TARGET_INVALID',
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

  static notIsolated(id: string): PlanError {
    return new PlanError(PlanErrorCode.PLAN_NOT_ISOLATED, `Plan ${id} has no integration branch (its workspace is not in a git work tree): its tasks wrote to the workspace itself`, { id });
  }

  static mergeConflict(id: string, branch: string, target: string, files: readonly string[]): PlanError {
    return new PlanError(PlanErrorCode.MERGE_CONFLICT, `Merging ${branch} into ${target} would conflict in ${files.join(', ')}; nothing was changed`, {
      id,
      branch,
      target,
      files: [...files],
    });
  }

  static workspaceDirty(target: string, worktree: string, files: readonly string[]): PlanError {
    return new PlanError(PlanErrorCode.WORKSPACE_DIRTY, `${target} is checked out at ${worktree} with uncommitted changes (${files.join(', ')}): commit or stash them first`, {
      target,
      worktree,
      files: [...files],
    });
  }

  static mergeTargetInvalid(message: string, target: string | null): PlanError {
    return new PlanError(PlanErrorCode.MERGE_TARGET_INVALID, message, { field: 'target', target });
  }

  static invalidField(field: string, message: string, value?: unknown): PlanError {
    return new PlanError(PlanErrorCode.VALIDATION_FAILED, `${field} ${message}`, value === undefined ? { field } : { field, value });
  }

  static invalidState(id: string, status: string, action: string): PlanError {
    return new PlanError(PlanErrorCode.PLAN_INVALID_STATE, `Plan ${id} is ${status}: cannot ${action} it`, { id, status, action });
  }
}

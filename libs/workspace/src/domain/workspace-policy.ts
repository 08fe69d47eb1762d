import { isInside } from '@app/shared';
import { WorkspaceError, WorkspaceErrorCode } from './workspace.errors';

/**
 * Where a workspace may be. Pure: every path here is already resolved (realpath), so that
 * containment is decided on what the filesystem really points at, after symlinks and `..`.
 */
export interface WorkspaceBoundary {
  /** Directories a workspace must be in (or be). */
  roots: readonly string[];
  /** Directories that are never a workspace, nor inside one, nor containing one: DATA_DIR, the orchestrator's home. */
  forbidden: ReadonlyArray<{ path: string; what: string }>;
  /** Directories the orchestrator owns inside the roots (WORKTREES_DIR): never a workspace, nor inside one; a workspace may contain them. */
  reserved?: ReadonlyArray<{ path: string; what: string }>;
}

/**
 * Throws WORKSPACE_OUTSIDE_ROOTS unless `realPath` is inside one of the boundary's roots, inside
 * one of `keyRoots` when the caller's key has some, and neither `/` nor overlapping a forbidden
 * directory (an agent working in a directory that contains the orchestrator could rewrite it).
 */
export function assertWithinBoundary(
  realPath: string,
  boundary: WorkspaceBoundary,
  keyRoots?: readonly string[] | null,
  requested: string = realPath,
): void {
  const outside = (message: string, reason: string, extra: Record<string, unknown> = {}) =>
    new WorkspaceError(WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS, `workspace ${requested} ${message}`, {
      field: 'workspace',
      workspace: requested,
      resolved: realPath,
      reason,
      ...extra,
    });
  if (realPath === '/') throw outside('is the filesystem root, which is never a workspace', 'FILESYSTEM_ROOT');
  for (const { path, what } of boundary.forbidden) {
    if (isInside(realPath, path)) throw outside(`is inside ${what} (${path}), which is never a workspace`, 'FORBIDDEN');
    if (isInside(path, realPath)) throw outside(`contains ${what} (${path}), which is never part of a workspace`, 'FORBIDDEN');
  }
  for (const { path, what } of boundary.reserved ?? []) {
    if (isInside(realPath, path)) throw outside(`is inside ${what} (${path}), which the orchestrator owns`, 'RESERVED');
  }
  const resolvedNote = realPath === requested ? '' : ` (it resolves to ${realPath})`;
  if (!boundary.roots.some((root) => isInside(realPath, root))) {
    throw outside(`is outside WORKSPACE_ROOTS${resolvedNote}: allowed roots are ${boundary.roots.join(', ') || '(none)'}`, 'OUTSIDE_ROOTS', {
      roots: boundary.roots,
    });
  }
  if (keyRoots && !keyRoots.some((root) => isInside(realPath, root))) {
    throw outside(`is outside the roots of this API key${resolvedNote}: ${keyRoots.join(', ') || '(none)'}`, 'OUTSIDE_KEY_ROOTS', {
      keyRoots,
    });
  }
}

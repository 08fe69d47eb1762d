/**
 * The filesystem as the contexts that run agents see it: where a workspace may be, what a path
 * really points at, and which host this is. Session and plan use cases ask this port; none of them
 * touches `fs` or `os`.
 */
export interface WorkspacePort {
  /**
   * This process on this host, `<hostname>:<pid>`: the middle of the lock owners the use cases
   * make, so a held lock names where its holder runs.
   */
  readonly hostId: string;
  /**
   * The realpath of `path` when it is an absolute path of an existing directory inside
   * WORKSPACE_ROOTS (and inside `keyRoots` when given), never `/`, DATA_DIR or the orchestrator's
   * home, nor a directory containing them. Throws WorkspaceError WORKSPACE_INVALID or
   * WORKSPACE_OUTSIDE_ROOTS, the message naming the path and why.
   */
  resolve(path: string, keyRoots?: readonly string[] | null): Promise<string>;
  /** An API key's roots: each an existing directory inside WORKSPACE_ROOTS; their realpaths. */
  resolveRoots(roots: readonly string[]): Promise<string[]>;
  /**
   * The worker's check right before a run (a symlink may have been swapped since creation):
   * the same rules as resolve; returns the realpath the run must use.
   */
  recheck(path: string): Promise<string>;
  /** The realpath of `path`, or `path` normalised when it does not exist (one directory, one name: lock keys). */
  canonical(path: string): Promise<string>;
  /** Whether `path` is an existing directory (a plan's workspace may vanish). */
  isDirectory(path: string): Promise<boolean>;
  /** The realpaths of the existing WORKSPACE_ROOTS (the sandbox binds them writable). */
  roots(): Promise<string[]>;
}

export const WORKSPACE_PORT = Symbol('WORKSPACE_PORT');

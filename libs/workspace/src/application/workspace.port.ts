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
  /**
   * WORKTREES_DIR, made when missing, as its realpath; throws WORKSPACE_INVALID naming the variable
   * when it is not inside WORKSPACE_ROOTS (the agents work there) or overlaps DATA_DIR or the
   * orchestrator's home.
   */
  worktreesDirectory(): Promise<string>;
  /** Makes `path` (inside WORKTREES_DIR) and its parents when missing. */
  makeDirectory(path: string): Promise<void>;
  /** The names of the directories directly in `path` (inside WORKTREES_DIR); none when it does not exist. */
  listDirectories(path: string): Promise<string[]>;
  /** Removes `path` (inside WORKTREES_DIR) and everything in it; nothing when it does not exist. */
  removeDirectory(path: string): Promise<void>;
  /** Bytes used by the files under `path` (symlinks not followed); 0 when it does not exist. */
  diskUsage(path: string): Promise<number>;
  /** A small text file the orchestrator keeps inside WORKTREES_DIR; null when missing. */
  readNote(path: string): Promise<string | null>;
  writeNote(path: string, text: string): Promise<void>;
}

export const WORKSPACE_PORT = Symbol('WORKSPACE_PORT');

/**
 * Git as the contexts that isolate an agent's work see it: worktrees on their own branches,
 * committing what an agent changed, and what changed between two commits. The repositories are
 * written by models, so the adapter treats every one as hostile: nothing in a repository (hooks,
 * config, attributes) runs a program in the orchestrator.
 */
export interface GitPort {
  /** The realpath of the top of the git work tree `directory` is in, or null when it is in none. */
  workTreeRoot(directory: string): Promise<string | null>;
  /** The full commit id `ref` names in `repository`. */
  commitOf(repository: string, ref: string): Promise<string>;
  /** A new worktree at `path` (absolute, not existing) on the new branch `branch`, made from `baseCommit`. */
  addWorktree(repository: string, path: string, branch: string, baseCommit: string): Promise<void>;
  /** Commits every change in `worktree`, new files included; the new commit, or null when nothing changed. */
  commitAll(worktree: string, message: string, author: GitAuthor): Promise<string | null>;
  /** What changed from `base` to `head`: the files (new paths) and the lines added and removed. */
  changes(repository: string, base: string, head: string): Promise<GitChanges>;
  /** The unified diff from `base` to `head`. */
  diff(repository: string, base: string, head: string): Promise<string>;
  /** Removes the worktree at `path` whatever it holds, and deletes `branch`. */
  removeWorktree(repository: string, path: string, branch: string): Promise<void>;
}

export interface GitAuthor {
  name: string;
  email: string;
}

export interface GitChanges {
  files: string[];
  insertions: number;
  deletions: number;
}

export const GIT_PORT = Symbol('GIT_PORT');

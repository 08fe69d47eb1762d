import type { GitFileStatus } from '../domain/git-output';

/**
 * Git as the contexts that isolate an agent's work see it: worktrees on their own branches,
 * committing what an agent changed, and what changed between two commits. The repositories are
 * written by models, so the adapter treats every one as hostile: nothing in a repository (hooks,
 * config, attributes) runs a program in the orchestrator.
 */
export interface GitPort {
  /**
   * The realpath of the top of the git work tree `directory` is in, or null when it is in none;
   * GIT_FAILED when git could not tell (never null for a failure).
   */
  workTreeRoot(directory: string): Promise<string | null>;
  /** Whether the repository's HEAD names a commit (false in a repository nothing was committed to yet). */
  hasCommit(repository: string): Promise<boolean>;
  /** The realpath of the repository's common git directory (the one its worktrees share). */
  commonDir(repository: string): Promise<string>;
  /** The full commit id `ref` names in `repository`. */
  commitOf(repository: string, ref: string): Promise<string>;

  /** A new worktree at `path` (absolute, not existing) on the new branch `branch`, made from `baseCommit`. */
  addWorktree(repository: string, path: string, branch: string, baseCommit: string): Promise<void>;
  /** A new worktree at `path` (absolute, not existing) with `commit` checked out on a detached HEAD: a slot branches are switched in. */
  addDetachedWorktree(repository: string, path: string, commit: string): Promise<void>;
  /** Removes the worktree at `path` whatever it holds, and deletes `branch`. */
  removeWorktree(repository: string, path: string, branch: string): Promise<void>;
  /** Every worktree of the repository, the main one first, as git records them (realpaths). */
  listWorktrees(repository: string): Promise<GitWorktree[]>;
  /** The branch checked out in the work tree whose top is `worktree` (a merge's default target), or null on a detached HEAD. */
  checkedOutBranch(worktree: string): Promise<string | null>;
  /** Forgets the worktrees whose directories are gone. */
  pruneWorktrees(repository: string): Promise<void>;

  /** Whether the branch `branch` exists. */
  branchExists(repository: string, branch: string): Promise<boolean>;
  /** A new branch at `commit`; fails when `branch` exists. */
  createBranch(repository: string, branch: string, commit: string): Promise<void>;
  /** Deletes `branch`; a missing one is fine, one checked out in a worktree fails. */
  deleteBranch(repository: string, branch: string): Promise<void>;
  /** The branches whose names start with `prefix` (e.g. `orchestrator/`), sorted. */
  listBranches(repository: string, prefix: string): Promise<string[]>;

  /** The paths `git status` reports in `worktree`, untracked files included: empty when it is clean. */
  dirtyFiles(worktree: string): Promise<string[]>;
  /**
   * Commits every change in `worktree`, new files included; the new commit, or null when nothing
   * changed. A merge in progress (MERGE_HEAD) is concluded: the commit gets both parents.
   */
  commitAll(worktree: string, message: string, author: GitAuthor): Promise<string | null>;

  // A slot is a worktree the caller holds alone (under its lock): no other git runs in it.
  /**
   * Readies `slot` for switchSlot: detached, no untracked or ignored files. What a lost worker left
   * on the slot's branch (changes, a merge in progress) is first committed there with `leftovers`,
   * so that nothing is lost; `recovered` is that commit. Locks a killed git left (index, HEAD, the
   * branch) go. Changes to tracked files in a slot that was detached already are strays, left for
   * switchSlot to discard.
   */
  resetSlot(slot: string, leftovers: { message: string; author: GitAuthor }): Promise<GitSlotReset>;
  /**
   * Checks `branch` out in the detached `slot` (tracked files forced to it), creating it at
   * `baseCommit` when it does not exist (`created`). A branch checked out in another worktree fails
   * with GIT_FAILED naming it (`details.worktree`, its realpath); one whose directory is gone (a slot removed while it had the branch)
   * is forgotten first, as `pruneWorktrees` would. The branch's ref lock a killed git left goes.
   */
  switchSlot(slot: string, branch: string, baseCommit: string): Promise<{ created: boolean }>;
  /**
   * After a run on `branch`: commits every change in `slot` as `commitAll` does, detaches it (files
   * kept) so that the branch may be checked out elsewhere, and counts its changes since `base`. A
   * slot no longer on `branch` (the agent switched it) fails with GIT_FAILED and nothing committed.
   */
  settleSlot(slot: string, work: { branch: string; message: string; author: GitAuthor; base: string }): Promise<GitSlotSettled>;
  /**
   * Merges `source` (a branch or commit) into the slot's branch without committing: conflicting
   * files keep git's markers and are returned. The caller's `commitAll` makes the merge commit.
   */
  mergeIntoSlot(slot: string, source: string, message: string): Promise<{ conflicts: string[] }>;
  /** Detaches HEAD in `slot`, files kept, so that another worktree may check its branch out. */
  detachSlot(slot: string): Promise<void>;
  /** Which of `files` (worktree-relative) hold a conflict marker line in the worktree's HEAD commit. */
  conflictMarkers(worktree: string, files: string[]): Promise<string[]>;

  /**
   * Merges `source` into the branch `target` and never leaves a half merge: a conflict or a dirty
   * worktree that has `target` checked out changes nothing; otherwise the branch (and that worktree's
   * files) move in one step that `recoverMerge` finishes or undoes after a crash. Merges into one
   * repository must queue (`mergeQueueResource`): each first recovers an interrupted one.
   */
  merge(repository: string, request: GitMergeRequest): Promise<GitMergeOutcome>;
  /**
   * Merges each of `items` in order into `target` (merge commits), each onto what the ones before
   * it made, and moves the branch once, in one step, as `merge` does: a queue's worth of merges for
   * the price of one move. A source that conflicts is skipped (its outcome `conflict`) and the
   * series goes on; a dirty worktree that has `target` checked out changes nothing. Call it in the
   * repository's merge queue.
   */
  mergeSeries(repository: string, request: GitMergeSeriesRequest): Promise<GitMergeSeriesOutcome>;
  /**
   * Finishes or undoes a merge a crash interrupted while it moved its target ('rolled-forward' when
   * the branch had moved, 'discarded' when it had not), and removes what merges left behind
   * (scratch worktrees, stale locks). Call it in the repository's merge queue.
   */
  recoverMerge(repository: string): Promise<GitMergeRecovery>;

  /** What changed from `base` to `head`: the files (new paths) and the lines added and removed. */
  changes(repository: string, base: string, head: string): Promise<GitChanges>;
  /** The unified diff from `base` to `head`. */
  diff(repository: string, base: string, head: string): Promise<string>;
  /** The diff from `base` to `head` file by file, renames found, hunks parsed. */
  diffFiles(repository: string, base: string, head: string): Promise<GitFileDiff[]>;
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

export interface GitWorktree {
  path: string;
  /** Null while its branch has no commit. */
  head: string | null;
  /** The short branch name (`main`), or null when HEAD is detached. */
  branch: string | null;
}

export interface GitSlotReset {
  /** The commit that saved what a lost worker left in the slot, or null when it left nothing. */
  recovered: string | null;
}

export interface GitSlotSettled {
  /** The commit made of the run's changes, or null when it changed nothing. */
  committed: string | null;
  /** The branch's head commit now. */
  head: string;
  /** What changed from `base` to `head`. */
  changes: GitChanges;
}

/**
 * merge: a merge commit (target, source). squash: one commit on target with source's changes.
 * rebase: source's commits since it forked replayed on target (authors kept, merge commits dropped).
 */
export type GitMergeStrategy = 'merge' | 'squash' | 'rebase';

export interface GitMergeRequest {
  /** A branch or commit. */
  source: string;
  /** A branch name. */
  target: string;
  strategy: GitMergeStrategy;
  /** The merge or squash commit's message (rebase keeps each commit's own). */
  message: string;
  /** Author and committer of the new commits (rebase: committer only). */
  author: GitAuthor;
}

export interface GitMergeSeriesRequest {
  /** A branch name. */
  target: string;
  /** In merge order: each a branch or commit, and its merge commit's message. */
  items: ReadonlyArray<{ source: string; message: string }>;
  /** Author and committer of the merge commits. */
  author: GitAuthor;
}

/** One item's outcome: `merged.commit` is the merge commit it made (the branch ends at the last one). */
export type GitSeriesItemOutcome = Extract<GitMergeOutcome, { kind: 'merged' | 'up-to-date' | 'conflict' }>;

export type GitMergeSeriesOutcome = { kind: 'done'; outcomes: GitSeriesItemOutcome[] } | Extract<GitMergeOutcome, { kind: 'dirty' }>;

export type GitMergeOutcome =
  | { kind: 'merged'; commit: string; previous: string }
  | { kind: 'up-to-date'; commit: string }
  | { kind: 'conflict'; files: string[] }
  | { kind: 'dirty'; worktree: string; files: string[] };

export type GitMergeRecovery = 'none' | 'rolled-forward' | 'discarded';

export type { GitFileStatus };

export interface GitFileDiff {
  /** The new path (the old one for a deleted file). */
  path: string;
  /** The path before a rename, else null. */
  oldPath: string | null;
  status: GitFileStatus;
  insertions: number;
  deletions: number;
  binary: boolean;
  hunks: GitDiffHunk[];
}

export interface GitDiffHunk {
  /** `@@ -1,3 +1,4 @@ context` */
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  /** Each line with its leading `+`, `-` or space; git's `\ No newline at end of file` notes are kept. */
  lines: string[];
}

export const GIT_PORT = Symbol('GIT_PORT');

/**
 * Where a session's agent works. `worktree`: a git worktree of its own on its own branch, so that
 * sessions on one repository run at once and each one's work is a branch to review, merge or
 * discard. `shared`: the workspace directory itself, one session at a time under its lock (the
 * only choice for a workspace that is not in a git work tree).
 */
export type SessionIsolation = 'worktree' | 'shared';
export const SESSION_ISOLATIONS: readonly SessionIsolation[] = ['worktree', 'shared'];

/** ACTIVE: the branch holds the work; MERGED and DISCARDED: the branch is gone; EXPIRED: removed after WORKTREE_RETENTION_HOURS. */
export type WorktreeState = 'ACTIVE' | 'MERGED' | 'DISCARDED' | 'EXPIRED';

export type MergeStrategy = 'merge' | 'squash' | 'rebase';
export const MERGE_STRATEGIES: readonly MergeStrategy[] = ['merge', 'squash', 'rebase'];

/** Where the session's branch went. */
export interface SessionMerge {
  target: string;
  strategy: MergeStrategy;
  commit: string;
  at: Date;
}

/** A session's branch, what its commits changed since baseCommit, and the worktree slot its run uses. */
export interface SessionWorktree {
  /** The realpath of the top of the git work tree the workspace is in. */
  repository: string;
  /** The workspace relative to `repository` ('' when it is the top): the agent works there inside its worktree. */
  subdirectory: string;
  branch: string;
  /** What the branch was made from, as asked (null: the workspace's HEAD). */
  baseRef: string | null;
  baseCommit: string;
  /** The branch's last commit (baseCommit until a run committed something). */
  headCommit: string;
  files: string[];
  insertions: number;
  deletions: number;
  /** A branch merged into the worktree before the first turn, its conflicts left for the agent (a resolver session). */
  mergeIn: string | null;
  /** The slot directory of the current run (its lock is held by the run); kept so that a resumed run takes the same one. */
  slot: string | null;
  state: WorktreeState;
  merge: SessionMerge | null;
}

/** What one run's commits changed in all, since the branch was made. */
export interface WorktreeChanges {
  headCommit: string;
  files: string[];
  insertions: number;
  deletions: number;
}

export function newSessionWorktree(input: {
  repository: string;
  subdirectory: string;
  branch: string;
  baseRef: string | null;
  baseCommit: string;
  mergeIn?: string | null;
}): SessionWorktree {
  return {
    ...input,
    mergeIn: input.mergeIn ?? null,
    headCommit: input.baseCommit,
    files: [],
    insertions: 0,
    deletions: 0,
    slot: null,
    state: 'ACTIVE',
    merge: null,
  };
}

/** The commit message of a run's changes: the title, then the session id (so a branch's history names its sessions). */
export function worktreeCommitMessage(title: string, sessionId: string, attempt: number): string {
  const subject = title.replace(/\s+/g, ' ').trim().slice(0, 72) || 'session';
  return `${subject}\n\nOrchestrator-Session: ${sessionId}\nOrchestrator-Attempt: ${attempt}\n`;
}

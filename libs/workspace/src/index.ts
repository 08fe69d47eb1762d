export { WorkspaceModule } from './workspace.module';
export { WORKSPACE_PORT } from './application/workspace.port';
export type { WorkspacePort } from './application/workspace.port';
export { WorkspaceError, WorkspaceErrorCode } from './domain/workspace.errors';
export { GIT_PORT } from './application/git.port';
export type { GitAuthor, GitChanges, GitPort } from './application/git.port';
export { sessionBranchName } from './domain/git-refs';
export { assertSafeRef } from './domain/git-refs';
export type {
  GitDiffHunk,
  GitFileDiff,
  GitFileStatus,
  GitMergeOutcome,
  GitMergeRecovery,
  GitMergeRequest,
  GitMergeSeriesOutcome,
  GitMergeSeriesRequest,
  GitMergeStrategy,
  GitSeriesItemOutcome,
  GitSlotReset,
  GitSlotSettled,
  GitWorktree,
} from './application/git.port';
export { mergeQueueResource, planBranchName } from './domain/git-refs';
export { workspaceLockResource } from './domain/lock-resources';

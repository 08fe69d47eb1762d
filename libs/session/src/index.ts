// The session context's public entry: what other code uses of it, nothing more.
export { SessionModule } from './session.module';
export { SessionWorkerModule } from './session-worker.module';
export { CodingTurnsModule } from './coding-turns.module';
export { SESSION_ENTITIES } from './infrastructure/persistence/session-entities';
export { SESSION_RUN_QUEUE } from './infrastructure/jobs/session-run.queue';
export { CODING_TURNS } from './application/ports/coding-turns.port';
export type { CodingTurnsPort } from './application/ports/coding-turns.port';
export { SessionLifecycleService } from './application/session-lifecycle.service';
export { SessionWorktreeService } from './application/session-worktree.service';
export { WorktreeDiskUsage } from './application/workplace/worktree-disk-usage';
export { WorktreeJanitor } from './application/workplace/worktree-janitor';
export type { JanitorReport } from './application/workplace/worktree-janitor';
export type { MergeSessionCommand, SessionMergeResult } from './application/session-worktree.service';
export type { MergeStrategy, SessionIsolation, SessionWorktree } from './domain/session-worktree';
export { SessionTransitionPublisher } from './application/session-transition-publisher';
export { Session } from './domain/session';
export { isFinal, SessionStatus } from './domain/session-status';
export { SessionError, SessionErrorCode } from './domain/session.errors';

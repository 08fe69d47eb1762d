import { Session, SessionTransition } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';

export interface SessionEventRecord extends SessionTransition {
  id: string;
  sessionId: string;
}

export interface SessionListQuery {
  status?: SessionStatus;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface SessionPage {
  items: Session[];
  nextCursor: string | null;
}

export interface SessionRepositoryPort {
  /** Inserts a new session with its recorded transitions. */
  insert(session: Session): Promise<void>;
  /**
   * Writes the session and its new transitions in one transaction, only if the stored
   * version is still session.version; otherwise throws VERSION_CONFLICT and writes nothing.
   */
  update(session: Session): Promise<void>;
  /** Deleted sessions are invisible unless includeDeleted. */
  findById(id: string, options?: { includeDeleted?: boolean }): Promise<Session | null>;
  list(query: SessionListQuery): Promise<SessionPage>;
  events(sessionId: string): Promise<SessionEventRecord[]>;
  /** Sessions in one of the given statuses whose row has not changed since `before`. */
  findUnchangedSince(statuses: SessionStatus[], before: Date, limit: number): Promise<Session[]>;
  /**
   * Which of these sessions their worker should stop on: a user asked to cancel, or the row
   * is no longer QUEUED or RUNNING (cancelled while queued, settled by recovery) or was deleted.
   */
  findToStop(ids: string[]): Promise<string[]>;
  /** The branches of `repository` that sessions still hold (worktree ACTIVE, session not deleted). */
  activeBranches(repository: string): Promise<string[]>;
  /** The repositories of every session worktree still ACTIVE. */
  worktreeRepositories(): Promise<string[]>;
  /** Finished sessions (not deleted: their branches are orphans, see activeBranches) whose branch is still ACTIVE, finished before `before`, oldest first. */
  findWorktreesToExpire(before: Date, limit: number): Promise<Session[]>;
}

export const SESSION_REPOSITORY = Symbol('SESSION_REPOSITORY');

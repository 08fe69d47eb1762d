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

/** Where a page of findUnchangedSince ended: its last session's updatedAt and id. */
export interface UnchangedSinceCursor {
  updatedAt: Date;
  id: string;
}

export interface UnchangedSinceQuery {
  status: SessionStatus;
  before: Date;
  limit: number;
  after?: UnchangedSinceCursor;
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
  /**
   * Up to `limit` sessions in `status` whose row has not changed since `before`, in (updatedAt, id)
   * order, after `after` when given (keyset paging: where the previous page ended).
   */
  findUnchangedSince(query: UnchangedSinceQuery): Promise<Session[]>;
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
  /**
   * Retention: empties the output text (result.summary) of up to `limit` sessions in a final status
   * that finished before `before` and are not pruned yet (deleted ones too), oldest first, and marks
   * them pruned at `now`. Their version moves on, so a writer holding an older copy gets
   * VERSION_CONFLICT; rows a writer has locked are skipped (a later batch takes them). Returns how
   * many were pruned. The transitions (session_events) are never touched.
   */
  pruneFinished(before: Date, limit: number, now: Date): Promise<number>;
  /** Which of these sessions (deleted ones included) are not in a final status; an unknown id is not listed. */
  findUnfinished(ids: readonly string[]): Promise<string[]>;
}

export const SESSION_REPOSITORY = Symbol('SESSION_REPOSITORY');

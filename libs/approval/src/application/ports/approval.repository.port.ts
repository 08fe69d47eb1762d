import type { Approval } from '../../domain/approval';
import type { ApprovalStatus } from '../../domain/approval-status';

export interface ApprovalListFilter {
  status?: ApprovalStatus;
  sessionId?: string;
  /** Newest first, at most this many. */
  limit: number;
}

/** One run of a session: its approvals are those of one attempt. */
export interface SessionRun {
  sessionId: string;
  attempt: number;
}

export interface ApprovalRepositoryPort {
  /**
   * Stores a new approval, unless one exists for the same session and OpenCode request: then
   * returns that one (a resumed run asks again for a request it had already opened).
   */
  insertOrGet(approval: Approval): Promise<Approval>;
  findById(id: string): Promise<Approval | null>;
  list(filter: ApprovalListFilter): Promise<Approval[]>;
  /** PENDING approvals of these runs (one query, for a page of sessions), oldest first. */
  findPendingOfRuns(runs: readonly SessionRun[]): Promise<Approval[]>;
  /** PENDING approvals whose expiry has passed, oldest first. */
  findOverdue(now: Date, limit: number): Promise<Approval[]>;
  /** Writes a change if the stored version is still the approval's; else APPROVAL_VERSION_CONFLICT. */
  update(approval: Approval): Promise<void>;
}

export const APPROVAL_REPOSITORY = Symbol('APPROVAL_REPOSITORY');

/**
 * What the session context needs from the approval context: turn a permission request of a run
 * into an approval and wait for its decision, withdraw it when the run no longer needs it, and
 * read what a session's current run waits for (awaitingApproval).
 */

export interface PermissionAsk {
  sessionId: string;
  attempt: number;
  /** The coding server's request id: one approval per request and session. */
  requestId: string;
  permission: string;
  patterns: string[];
  title: string;
  metadata: Record<string, unknown>;
}

/** An approval as the session context sees it. */
export interface ApprovalView {
  id: string;
  sessionId: string;
  attempt: number;
  permission: string;
  patterns: string[];
  title: string;
  /** PENDING, ALLOWED, DENIED, EXPIRED or CANCELLED. */
  status: string;
  /** allow + remember ("always"). */
  remember: boolean;
  expiresAt: Date;
  /** key, timeout, session-ended, opencode; null while PENDING. */
  decidedBy: string | null;
  answeredByKeyId: string | null;
}

/** The run no longer waits: the turn ended, or the server settled the request itself (allowed or not). */
export type ApprovalWithdrawal = { kind: 'cancel' } | { kind: 'settled-by-opencode'; allowed: boolean };

export interface ApprovalGatePort {
  /** Opens the approval of a request, or finds the one opened before (a resumed run asks again). */
  open(ask: PermissionAsk): Promise<ApprovalView>;
  /**
   * Resolves once it is decided (answered, expired at its expiry, decided elsewhere); when
   * `signal` aborts first, with the approval as it stands (maybe still PENDING).
   */
  awaitDecision(approvalId: string, signal: AbortSignal): Promise<ApprovalView>;
  /** Ends a PENDING approval nobody answered; decided already, returns it unchanged. */
  withdraw(approvalId: string, withdrawal: ApprovalWithdrawal): Promise<ApprovalView>;
  /** Cancels what a finished run left PENDING; returns those it cancelled. */
  cancelPending(sessionId: string, attempt: number): Promise<ApprovalView[]>;
  /** PENDING approvals of these runs, by session id (one read for a page of sessions). */
  awaiting(runs: ReadonlyArray<{ sessionId: string; attempt: number }>): Promise<Map<string, ApprovalView[]>>;
  /** Expires PENDING approvals past their expiry that no worker waits for any more; returns them. */
  expireOverdue(): Promise<ApprovalView[]>;
}

export const APPROVAL_GATE = Symbol('APPROVAL_GATE');

/** What the coding server is told for a decided approval: allowed once or always, anything else refused. */
export function replyOf(approval: ApprovalView): 'once' | 'always' | 'reject' {
  if (approval.status !== 'ALLOWED') return 'reject';
  return approval.remember ? 'always' : 'once';
}

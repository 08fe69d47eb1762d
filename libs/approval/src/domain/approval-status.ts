export enum ApprovalStatus {
  /** OpenCode waits for an answer. */
  PENDING = 'PENDING',
  ALLOWED = 'ALLOWED',
  DENIED = 'DENIED',
  /** Nobody answered within APPROVAL_TIMEOUT_SECONDS: denied. */
  EXPIRED = 'EXPIRED',
  /** The session's turn ended first (cancelled, timed out, failed): nobody waits for an answer any more. */
  CANCELLED = 'CANCELLED',
}

/** The one table of allowed transitions: an approval is decided once. */
export const APPROVAL_TRANSITIONS: Readonly<Record<ApprovalStatus, readonly ApprovalStatus[]>> = {
  [ApprovalStatus.PENDING]: [ApprovalStatus.ALLOWED, ApprovalStatus.DENIED, ApprovalStatus.EXPIRED, ApprovalStatus.CANCELLED],
  [ApprovalStatus.ALLOWED]: [],
  [ApprovalStatus.DENIED]: [],
  [ApprovalStatus.EXPIRED]: [],
  [ApprovalStatus.CANCELLED]: [],
};

export function canTransition(from: ApprovalStatus, to: ApprovalStatus): boolean {
  return APPROVAL_TRANSITIONS[from].includes(to);
}

/**
 * Who decided: `key` an API caller (answeredByKeyId says which key; null with auth off);
 * `timeout` nobody in time; `session-ended` the turn ended first; `opencode` OpenCode settled it
 * itself (an earlier allow with remember covered it, or it refused it with another request).
 */
export const APPROVAL_DECIDERS = ['key', 'timeout', 'session-ended', 'opencode'] as const;
export type ApprovalDecider = (typeof APPROVAL_DECIDERS)[number];

/** The outcomes counted by orchestrator_approvals_total. */
export const APPROVAL_OUTCOMES = ['allowed', 'denied', 'expired', 'cancelled'] as const;
export type ApprovalOutcome = (typeof APPROVAL_OUTCOMES)[number];

export function outcomeOf(status: ApprovalStatus): ApprovalOutcome | null {
  return status === ApprovalStatus.PENDING ? null : (status.toLowerCase() as ApprovalOutcome);
}

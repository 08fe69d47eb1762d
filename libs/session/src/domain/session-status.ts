export enum SessionStatus {
  PENDING = 'PENDING',
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  COMPLETED = 'COMPLETED',
  FAILED = 'FAILED',
  TIMED_OUT = 'TIMED_OUT',
  CANCELLED = 'CANCELLED',
}

/** The one table of allowed transitions. Everything else is INVALID_TRANSITION. */
export const SESSION_TRANSITIONS: Readonly<Record<SessionStatus, readonly SessionStatus[]>> = {
  [SessionStatus.PENDING]: [SessionStatus.QUEUED, SessionStatus.CANCELLED],
  // QUEUED → TIMED_OUT: its workspace (or its provider's capacity) stayed taken for its whole timeout.
  // QUEUED → FAILED: refused before it ran (every model's quota exhausted).
  [SessionStatus.QUEUED]: [SessionStatus.RUNNING, SessionStatus.CANCELLED, SessionStatus.TIMED_OUT, SessionStatus.FAILED],
  // RUNNING → QUEUED: the same attempt waits again for provider capacity (rate limited before its
  // first step, or moved to a fallback model); it spends no attempt.
  [SessionStatus.RUNNING]: [
    SessionStatus.QUEUED,
    SessionStatus.COMPLETED,
    SessionStatus.FAILED,
    SessionStatus.TIMED_OUT,
    SessionStatus.CANCELLED,
  ],
  [SessionStatus.COMPLETED]: [],
  [SessionStatus.FAILED]: [SessionStatus.QUEUED],
  [SessionStatus.TIMED_OUT]: [SessionStatus.QUEUED],
  [SessionStatus.CANCELLED]: [SessionStatus.QUEUED],
};

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return SESSION_TRANSITIONS[from].includes(to);
}

/** Statuses a session never leaves on its own (only a retry re-queues the retryable ones). */
export const FINAL_STATUSES: readonly SessionStatus[] = [
  SessionStatus.COMPLETED,
  SessionStatus.FAILED,
  SessionStatus.TIMED_OUT,
  SessionStatus.CANCELLED,
];

export function isFinal(status: SessionStatus): boolean {
  return FINAL_STATUSES.includes(status);
}

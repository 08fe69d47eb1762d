/**
 * "This approval was decided", across processes: the worker that waits for an answer learns of
 * it at once instead of at its next database read. Nothing is stored: a message lost (Redis
 * restarting) costs only latency, since the waiter also re-reads the approval every few seconds.
 */
export interface ApprovalDecisionsPort {
  /** Tells every process that approval `id` changed. Rejects when the transport fails (best effort). */
  publish(id: string): Promise<void>;
  /**
   * Calls `listener` whenever approval `id` is announced. Resolves once listening; returns the
   * function that stops it. Rejects when the transport cannot subscribe.
   */
  subscribe(id: string, listener: () => void): Promise<() => void>;
}

export const APPROVAL_DECISIONS = Symbol('APPROVAL_DECISIONS');

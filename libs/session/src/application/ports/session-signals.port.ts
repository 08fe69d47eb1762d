/** Cross-process signals to the worker that runs a session (API and workers may be apart). */
export interface SessionSignalsPort {
  /** Tells whichever worker runs the session to abort it. */
  requestCancel(sessionId: string): Promise<void>;
  /** Calls the handler for every cancel request; returns an unsubscribe function. */
  onCancelRequested(handler: (sessionId: string) => void): Promise<() => Promise<void>>;
}

export const SESSION_SIGNALS = Symbol('SESSION_SIGNALS');

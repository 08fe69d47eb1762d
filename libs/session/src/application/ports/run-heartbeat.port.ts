/**
 * Liveness of running sessions, independent of the queue: a worker beats for every session it
 * runs, so that recovery never fails a session a live worker is still running (for example
 * after Redis lost the queue's jobs in a restart).
 */
export interface RunHeartbeatPort {
  /** Marks these sessions as being run by a live worker for ttlMs. One round trip. */
  beat(sessionIds: string[], ttlMs: number): Promise<void>;
  /** Which of these sessions a live worker is running. */
  alive(sessionIds: string[]): Promise<Set<string>>;
}

export const RUN_HEARTBEAT = Symbol('RUN_HEARTBEAT');

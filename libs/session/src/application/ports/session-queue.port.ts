/** The run queue, as the use cases see it. One job per (session, attempt). */
export type RunJobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'missing';

export interface SessionRunJob {
  sessionId: string;
  attempt: number;
  /**
   * The id of the request that queued the run (x-request-id), so that the worker's log lines
   * for the run carry it too. Absent on runs the recovery sweep queued again.
   */
  correlationId?: string;
}

export interface SessionQueuePort {
  /**
   * Idempotent: enqueuing the same (session, attempt) twice adds one job. `ahead`: the job goes
   * before every waiting one (a lost run resumed by recovery does not wait behind the backlog).
   */
  enqueue(job: SessionRunJob, options?: { ahead?: boolean }): Promise<void>;
  /** A delayed job (waiting for its place) runs now, its place having come free; nothing when it is neither delayed nor about to be. */
  wake(job: SessionRunJob): Promise<void>;
  /** Removes a job that has not started; an active job is left to notice the new status. */
  remove(job: SessionRunJob): Promise<void>;
  state(job: SessionRunJob): Promise<RunJobState>;
}

export const SESSION_QUEUE = Symbol('SESSION_QUEUE');

import { Logger } from '@nestjs/common';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import { SessionQueuePort, SessionRunJob } from './ports/session-queue.port';
import type { FollowedTurn } from './run-types';
import { RunWrites } from './run-writes';

/** A turn lost with its server is re-run automatically up to this attempt (then the session stays FAILED). */
export const FAILOVER_LAST_ATTEMPT = 3;
/** How a turn lost with its server ends the session: lost by the server, or resumed and not found. */
export const SERVER_LOSS_CODES: readonly string[] = [RunFailureCode.OPENCODE_UNAVAILABLE, 'OPENCODE_SESSION_LOST', RunFailureCode.WORKER_LOST];

/** Why an attempt fails over: its turn was lost with its server, or no turn could be opened. */
export const FAILOVER_AFTER_SERVER_LOSS = 'failover after its OpenCode server was lost';
export const FAILOVER_AFTER_NO_TURN = 'failover after no OpenCode turn could be opened';

/**
 * Failover: a turn lost with its OpenCode server (killed, restarted, replaced, gone with its
 * worker) runs again at once as a new attempt, on whichever server placement picks: a worktree
 * session from what its branch holds (the lost turn's work was committed there), a shared one only
 * when the lost turn ran no tool; and a turn that could not be opened (no prompt went out). Up to
 * FAILOVER_LAST_ATTEMPT; later it stays FAILED (retryable by hand). Without a queue nothing fails
 * over (the session stays FAILED).
 *
 * The attempt's end and its failover are one write (RUNNING → FAILED → QUEUED, both transitions in
 * the history): no reader ever finds the failed attempt FAILED as the session's status, and no one
 * (a retry by hand, a plan's scheduler) acts on that FAILED meanwhile.
 */
export class RunFailover {
  constructor(
    private readonly queue: SessionQueuePort | null,
    private readonly writes: RunWrites,
    private readonly logger: Logger,
  ) {}

  /**
   * Ends the RUNNING attempt with `end` and, when it leaves the session FAILED and `failsOver`
   * says so, queues its next attempt in the same write, then enqueues that attempt's job. Returns
   * the written session (QUEUED as the next attempt when it failed over), or null as RunWrites.mutate.
   */
  async endOrFailOver(job: SessionRunJob, inHand: Session, end: (s: Session) => void, failsOver: (failed: Session) => boolean, what: string): Promise<Session | null> {
    const recorded = await this.writes.mutate(job, inHand, (s) => {
      end(s);
      if (this.queue && s.status === SessionStatus.FAILED && failsOver(s)) {
        const why = s.snapshot().error?.message ?? 'the OpenCode server was lost';
        s.retry(new Date(), `${what} (${why.slice(0, 200)})`);
      }
    });
    if (!recorded || recorded.attempt === job.attempt || !this.queue) return recorded;
    this.logger.warn(`Session ${job.sessionId}: ${what}; running it again as attempt ${recorded.attempt}`);
    // Saved before enqueued: a crash in between leaves a QUEUED session the recovery sweep enqueues.
    await this.queue.enqueue({ sessionId: job.sessionId, attempt: recorded.attempt });
    return recorded;
  }
}

/** Whether a run that just ended FAILED lost its turn with its server and may run again on its own. */
export function lostWithItsServer(failed: Session, ended: FollowedTurn, worktree: boolean): boolean {
  const s = failed.snapshot();
  if (s.status !== SessionStatus.FAILED || ended.outcome.status !== 'lost' || ended.abortReason) return false;
  if (!s.error || !SERVER_LOSS_CODES.includes(s.error.code) || s.attempt >= FAILOVER_LAST_ATTEMPT) return false;
  return worktree || !ended.toolsRan;
}

import { Logger } from '@nestjs/common';
import { Lease } from '@app/locking';
import { RunFailure } from '@app/shared';
import { Session, WORKER_SHUTDOWN } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { SessionQueuePort, SessionRunJob } from './ports/session-queue.port';
import { DONE, FollowedTurn, RunEnd } from './run-types';
import { RunWrites } from './run-writes';
import { SettledWorktree } from './workplace/worktree-slots';

const HANDED_TO_NEXT_WORKER: RunEnd = { handedOver: 'follow' };
const REQUEUED_AS_NEW_ATTEMPT: RunEnd = { handedOver: 'new-attempt' };

/**
 * A planned stop of this worker (a deploy), once its grace is over: every run following a turn
 * gives it up. A turn on a server that outlives this worker (an external one) goes on, for the next
 * worker to follow; a turn on a server that stops with it (a managed one) is aborted, and its
 * session is queued again as a new attempt (WORKER_SHUTDOWN).
 */
export class RunHandover {
  /** How each run following a turn now gives it up when this worker stops (handOverRuns). */
  private readonly handOffs = new Map<string, () => void>();
  /** Set once the grace of a planned stop is over: a run that reaches its turn from then on gives it up at once. */
  private handingOver = false;
  /** Leases of runs handed over: kept (not released) for the next worker, which takes them over. */
  private readonly handedOverPlaces = new WeakSet<Lease>();

  constructor(
    private readonly queue: SessionQueuePort | null,
    private readonly writes: RunWrites,
    private readonly logger: Logger,
  ) {}

  /**
   * The grace of a planned stop of this worker is over (a deploy): every run still following a
   * turn gives it up now, and so does any run that reaches its turn later. A turn on a server that
   * outlives this worker (an external one) goes on: the run stops following it and its job goes
   * back to the queue, keeping its workspace lease, for the next worker to follow it without sending
   * the prompt again. A turn on a server that stops with this worker (a managed one) is aborted, and
   * the session is queued again as a new attempt (WORKER_SHUTDOWN), never failed WORKER_LOST.
   * Returns how many runs were following a turn.
   */
  handOverRuns(): number {
    this.handingOver = true;
    const handOffs = [...this.handOffs.values()];
    handOffs.forEach((handOff) => handOff());
    return handOffs.length;
  }

  /**
   * How the run of this session gives its turn up on a planned stop; given up at once when the stop
   * is under way already. Returns the function that forgets it (the turn ended).
   */
  onShutdown(sessionId: string, handOff: () => void): () => void {
    this.handOffs.set(sessionId, handOff);
    if (this.handingOver) handOff();
    return () => {
      if (this.handOffs.get(sessionId) === handOff) this.handOffs.delete(sessionId);
    };
  }

  /** The turn goes on for the next worker to follow: the run keeps its place (that run takes the lease over, same owner). */
  handToNextWorker(job: SessionRunJob, lease: Lease): RunEnd {
    this.handedOverPlaces.add(lease);
    this.logger.log(`Session ${job.sessionId}: handed over; its OpenCode turn goes on, for the next worker to follow`);
    return HANDED_TO_NEXT_WORKER;
  }

  /** Whether the run of this lease handed its turn to the next worker (so keeps its place); answered once. */
  keepsPlace(lease: Lease): boolean {
    return this.handedOverPlaces.delete(lease);
  }

  /**
   * The turn stopped with this worker (its managed server stops too): the session runs again as a
   * new attempt (a worktree session from what its branch holds), or ends CANCELLED when a cancel
   * was asked meanwhile.
   */
  async requeueAfterShutdown(
    job: SessionRunJob,
    session: Session,
    ended: FollowedTurn,
    settled: SettledWorktree | { failure: RunFailure } | null,
  ): Promise<RunEnd> {
    const why = 'its worker stopped (a planned stop) and its OpenCode server stopped with it; the turn was aborted and the session runs again';
    const recorded = await this.writes.mutate(job, session, (s) => {
      if (settled && 'changes' in settled) s.recordChanges(settled.changes);
      if (s.cancelRequested) s.recordTurnOutcome(ended.outcome, { abortReason: 'cancel', resumed: false });
      else s.requeueAfterShutdown(why);
    });
    if (!recorded || recorded.status !== SessionStatus.QUEUED) return DONE;
    this.logger.warn(`Session ${job.sessionId}: ${WORKER_SHUTDOWN}, ${why} as attempt ${recorded.attempt}`);
    // Saved before enqueued: a crash in between leaves a QUEUED session the recovery sweep enqueues.
    // Ahead of the backlog: it was running, and only the deploy stopped it.
    await this.queue?.enqueue({ sessionId: job.sessionId, attempt: recorded.attempt }, { ahead: true });
    return REQUEUED_AS_NEW_ATTEMPT;
  }
}

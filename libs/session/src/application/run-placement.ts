import { Logger } from '@nestjs/common';
import { Lease } from '@app/locking';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import { SessionQueuePort, SessionRunJob } from './ports/session-queue.port';
import { DONE, RunEnd } from './run-types';
import { RunWatcher } from './run-watcher';
import { RunWrites } from './run-writes';
import { PLACE_KEPT_MS, placeRetryMs, WorkspaceLock } from './workplace/workspace-lock';
import { WorktreeSlots } from './workplace/worktree-slots';

/** Where a run works: its workspace under the workspace lock, or a worktree slot under the slot's lock. */
export interface RunPlace {
  lease: Lease;
  slot?: string;
}

/**
 * The place a run works in, taken before anything else: a worktree slot of its repository
 * (isolation "worktree"), or its workspace when no other session runs there ("shared"). A busy
 * place parks the run (its worker given back, its place kept in the lock's queue) until the lock is
 * handed to it or its wait times out.
 */
export class RunPlacement {
  /** Runs this process parked (their jobs delayed while they wait for their place), by session id. */
  private readonly parkedRuns = new Map<string, { job: SessionRunJob; until: number }>();

  constructor(
    private readonly workspaceLock: WorkspaceLock,
    private readonly slots: WorktreeSlots,
    private readonly watcher: RunWatcher,
    private readonly queue: SessionQueuePort | null,
    private readonly writes: RunWrites,
    private readonly logger: Logger,
  ) {
    this.workspaceLock.onPlaceReady((sessionId) => this.wakeParkedRun(sessionId));
  }

  /** Its place, taken without waiting; busy: see waitForPlace. */
  async take(job: SessionRunJob, session: Session): Promise<RunPlace | RunEnd> {
    const taken = session.worktree ? await this.slots.take(session) : await this.workspaceLock.take(session);
    if (taken.kind === 'held') {
      this.forgetPlace(job.sessionId);
      return { lease: taken.lease, slot: taken.slot };
    }
    return this.waitForPlace(job, session, taken.resource);
  }

  /** Gives the place up for the next in line. */
  release(place: RunPlace): Promise<void> {
    return place.slot ? this.slots.release(place.lease) : this.workspaceLock.release(place.lease);
  }

  /**
   * Its place is busy: the session stays QUEUED, its place kept in the lock's FIFO queue, and the
   * run gives its worker back (a delayed job, no attempt spent) until the lock is handed to its
   * place (the job is woken then) or placeRetryMs at most. It gives up (TIMED_OUT, WORKSPACE_BUSY)
   * after its own timeout counted from when it first found its place busy (waitingSince, on the
   * row, so that the count survives the delays). A cancel meanwhile gives its place up (RunWatcher).
   * A resumed RUNNING run whose place another session took waits likewise until its deadline, then
   * fails WORKSPACE_LOCK_LOST.
   */
  private async waitForPlace(job: SessionRunJob, session: Session, resource: string): Promise<RunEnd> {
    const leave = () => (session.worktree ? this.slots.leave(session) : this.workspaceLock.leave(session));
    const now = Date.now();
    const { startedAt, timeoutSeconds } = session.snapshot();
    if (session.status === SessionStatus.RUNNING) {
      const remainingMs = (startedAt ?? new Date(now)).getTime() + timeoutSeconds * 1000 - now;
      if (remainingMs > 0) return this.parkRun(job, leave, Math.min(placeRetryMs(0), remainingMs));
      this.forgetPlace(job.sessionId);
      await leave();
      const failure = {
        code: RunFailureCode.WORKSPACE_LOCK_LOST,
        message: `its worker was lost, and ${resource} was held by other sessions until past its timeout; its OpenCode turn was not followed again`,
      };
      await this.writes.mutate(job, session, (s) => s.fail(failure, s.snapshot().usage));
      return DONE;
    }
    const waiting = session.snapshot().waitingSince ? session : await this.writes.mutate(job, session, (s) => s.waitForPlace(new Date(now)), SessionStatus.QUEUED);
    if (!waiting) {
      await leave(); // cancelled, deleted or retried meanwhile
      return DONE;
    }
    const waitedMs = now - (waiting.snapshot().waitingSince ?? new Date(now)).getTime();
    const remainingMs = timeoutSeconds * 1000 - waitedMs;
    if (remainingMs > 0) return this.parkRun(job, leave, Math.min(placeRetryMs(waitedMs), remainingMs));
    this.forgetPlace(job.sessionId);
    await leave();
    await this.writes.mutate(job, waiting, (s) => s.timeOutWaiting(resource), SessionStatus.QUEUED);
    return DONE;
  }

  /** The run gives its worker back for `waitMs` at most; woken when the lock is handed to its place. */
  private parkRun(job: SessionRunJob, leave: () => Promise<void>, waitMs: number): RunEnd {
    const until = Date.now() + PLACE_KEPT_MS;
    for (const [id, parked] of this.parkedRuns) if (parked.until <= Date.now()) this.parkedRuns.delete(id);
    this.parkedRuns.set(job.sessionId, { job, until });
    this.watcher.watchPlace(job.sessionId, leave, PLACE_KEPT_MS);
    return { waitMs, waitingFor: 'place' };
  }

  private forgetPlace(sessionId: string): void {
    this.parkedRuns.delete(sessionId);
    this.watcher.unwatchPlace(sessionId);
  }

  /**
   * The lock was handed to the place of a run this process parked: its delayed job runs now. A
   * wake-up that misses its job anyway is not lost: the run comes back after its wait, and the
   * grant holds PLACE_CLAIM_MS for it.
   */
  private wakeParkedRun(sessionId: string): void {
    const parked = this.parkedRuns.get(sessionId);
    if (!parked || !this.queue) return;
    this.parkedRuns.delete(sessionId);
    this.queue.wake(parked.job).catch((err: Error) => this.logger.debug(`Could not wake the run of session ${sessionId}: ${err.message}`));
  }
}

import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import { APPROVAL_GATE, ApprovalGatePort } from './ports/approval-gate.port';
import { RUN_HEARTBEAT, RunHeartbeatPort } from './ports/run-heartbeat.port';
import { SESSION_QUEUE, SessionQueuePort } from './ports/session-queue.port';
import { SESSION_REPOSITORY, SessionRepositoryPort, UnchangedSinceCursor } from './ports/session.repository.port';
import { isVersionConflict } from './retry-on-conflict';

export interface RecoveryReport {
  /** QUEUED sessions enqueued again. */
  requeued: string[];
  /** RUNNING sessions whose run was lost, enqueued again to resume (ahead of the backlog). */
  resumed: string[];
}

/** Sessions one query reads. */
export const SWEEP_PAGE = 200;
/**
 * Pages a pass reads per status: RUNNING sessions are few (those running, and lost ones), so a
 * pass reads them all up to this bound; a QUEUED backlog is read one page per pass, a pass going
 * on from where the last one stopped.
 */
const PAGES_PER_PASS: Record<SessionStatus.QUEUED | SessionStatus.RUNNING, number> = {
  [SessionStatus.RUNNING]: 20,
  [SessionStatus.QUEUED]: 1,
};

/**
 * The safety net behind BullMQ's own stalled-job handling: finds sessions whose run can
 * no longer progress and sets them going again, so that nothing stays QUEUED or RUNNING for ever.
 * - RUNNING without a live job and without a worker's heartbeat (its worker died and the job
 *   gave up, or Redis lost both): its job is enqueued again, ahead of every waiting one, and the
 *   run resumes as after a lost worker. So OpenCode is asked before anything is decided: a turn
 *   still running is followed to its end, a finished one is recorded, one never sent is sent; only
 *   a turn OpenCode no longer has ends the session FAILED with WORKER_LOST (see SessionExecutionService).
 * - QUEUED without a live job (lost between save and enqueue, or its job failed): enqueued again.
 * - Approvals PENDING past their expiry (the worker that would have expired them died): EXPIRED.
 * Bounded work per pass, and every lost run found whatever the backlog: RUNNING sessions are read
 * first and to the end; QUEUED ones a page per pass in (updatedAt, id) order, each pass after the
 * last one's cursor, back to the oldest after the newest, so that each is looked at within
 * ceil(backlog / SWEEP_PAGE) passes.
 */
@Injectable()
export class SessionRecoveryService {
  private readonly logger = new Logger(SessionRecoveryService.name);
  /** Where the next pass goes on reading, per status (undefined: from the oldest). */
  private readonly cursors = new Map<SessionStatus, UnchangedSinceCursor>();

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(SESSION_QUEUE) private readonly queue: SessionQueuePort,
    @Inject(RUN_HEARTBEAT) private readonly heartbeat: RunHeartbeatPort,
    private readonly config: AppConfig,
    @Optional() @Inject(APPROVAL_GATE) private readonly approvals: ApprovalGatePort | null = null,
  ) {}

  /** Sessions younger than this are left alone: their job may simply not be visible yet. */
  get graceMs(): number {
    return this.config.workerLeaseSeconds * 1000;
  }

  async sweep(now = new Date()): Promise<RecoveryReport> {
    const report: RecoveryReport = { requeued: [], resumed: [] };
    const before = new Date(now.getTime() - this.graceMs);
    for (const status of [SessionStatus.RUNNING, SessionStatus.QUEUED] as const) {
      for (let page = 0; page < PAGES_PER_PASS[status]; page++) {
        const stale = await this.sessions.findUnchangedSince({ status, before, limit: SWEEP_PAGE, after: this.cursors.get(status) });
        const last = stale[stale.length - 1];
        if (stale.length < SWEEP_PAGE || !last) this.cursors.delete(status);
        else this.cursors.set(status, { updatedAt: last.snapshot().updatedAt, id: last.id });
        await this.recover(stale, report);
        if (stale.length < SWEEP_PAGE) break;
      }
    }
    // A live worker expires its own approvals at their expiry; these nobody waits for any more.
    await this.approvals?.expireOverdue().catch((err: Error) => this.logger.warn(`Recovery: could not expire overdue approvals: ${err.message}`));
    if (report.requeued.length || report.resumed.length) {
      this.logger.warn(`Recovery: requeued ${report.requeued.join(', ') || '-'}; resumed ${report.resumed.join(', ') || '-'}`);
    }
    return report;
  }

  private async recover(stale: Session[], report: RecoveryReport): Promise<void> {
    if (stale.length === 0) return;
    const alive = await this.heartbeat.alive(stale.map((s) => s.id));
    for (const candidate of stale) {
      // A live worker still runs it, whatever the queue says (Redis may have lost the job).
      if (alive.has(candidate.id)) continue;
      const job = { sessionId: candidate.id, attempt: candidate.attempt };
      const state = await this.queue.state(job);
      // Delayed: it waits for provider capacity or for its workspace, and comes back by itself.
      if (state === 'waiting' || state === 'active' || state === 'delayed') continue;
      await this.queue.remove(job);
      if (candidate.status === SessionStatus.QUEUED) {
        await this.queue.enqueue(job);
        report.requeued.push(candidate.id);
      } else {
        this.logger.warn(`Recovery: session ${candidate.id} (attempt ${candidate.attempt}) is RUNNING without a worker (run job ${state}); resuming it`);
        await this.queue.enqueue(job, { ahead: true });
        report.resumed.push(candidate.id);
      }
    }
  }

  /**
   * Records WORKER_LOST for a RUNNING attempt whose run job failed for good (it stalled twice, or
   * threw on every try): the job itself is the evidence, so OpenCode is not asked again here.
   */
  async failLostRun(sessionId: string, attempt: number, jobState: string): Promise<boolean> {
    const session = await this.sessions.findById(sessionId);
    if (!session || session.attempt !== attempt || session.status !== SessionStatus.RUNNING) return false;
    if ((await this.heartbeat.alive([sessionId])).has(sessionId)) return false; // its worker lives on
    const usage = session.snapshot().usage;
    if (session.cancelRequested) {
      session.cancel(`cancelled by user; its worker stopped before confirming (run job ${jobState})`, usage);
    } else {
      session.fail(
        {
          code: RunFailureCode.WORKER_LOST,
          message: `the worker running this session stopped (run job ${jobState}); the session did not finish`,
        },
        usage,
      );
    }
    try {
      await this.sessions.update(session);
    } catch (err) {
      if (isVersionConflict(err)) return false; // someone else settled it meanwhile
      throw err;
    }
    await this.approvals
      ?.cancelPending(sessionId, attempt)
      .catch((err: Error) => this.logger.warn(`Recovery: could not cancel the pending approvals of session ${sessionId}: ${err.message}`));
    return true;
  }
}

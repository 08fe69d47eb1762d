import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import { APPROVAL_GATE, ApprovalGatePort } from './ports/approval-gate.port';
import { RUN_HEARTBEAT, RunHeartbeatPort } from './ports/run-heartbeat.port';
import { SESSION_QUEUE, SessionQueuePort } from './ports/session-queue.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';
import { isVersionConflict } from './retry-on-conflict';

export interface RecoveryReport {
  requeued: string[];
  failed: string[];
}

/**
 * The safety net behind BullMQ's own stalled-job handling: finds sessions whose run can
 * no longer progress and settles them, so that nothing stays QUEUED or RUNNING for ever.
 * - QUEUED without a live job (lost between save and enqueue, or its job failed): enqueued again.
 * - RUNNING without a live job and without a worker's heartbeat (its worker died and the job
 *   gave up, or Redis lost both): FAILED with WORKER_LOST; approvals its run left PENDING are cancelled.
 * - Approvals PENDING past their expiry (the worker that would have expired them died): EXPIRED.
 */
@Injectable()
export class SessionRecoveryService {
  private readonly logger = new Logger(SessionRecoveryService.name);

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
    const report: RecoveryReport = { requeued: [], failed: [] };
    const before = new Date(now.getTime() - this.graceMs);
    const stale = await this.sessions.findUnchangedSince([SessionStatus.QUEUED, SessionStatus.RUNNING], before, 200);
    const alive = await this.heartbeat.alive(stale.map((s) => s.id));
    for (const candidate of stale) {
      // A live worker still runs it, or holds it QUEUED while it waits for its workspace,
      // whatever the queue says (Redis may have lost the job).
      if (alive.has(candidate.id)) continue;
      const job = { sessionId: candidate.id, attempt: candidate.attempt };
      const state = await this.queue.state(job);
      if (state === 'waiting' || state === 'active' || state === 'delayed') continue;
      if (candidate.status === SessionStatus.QUEUED) {
        await this.queue.remove(job);
        await this.queue.enqueue(job);
        report.requeued.push(candidate.id);
        continue;
      }
      if (await this.failLostRun(candidate.id, candidate.attempt, state)) report.failed.push(candidate.id);
    }
    // A live worker expires its own approvals at their expiry; these nobody waits for any more.
    await this.approvals?.expireOverdue().catch((err: Error) => this.logger.warn(`Recovery: could not expire overdue approvals: ${err.message}`));
    if (report.requeued.length || report.failed.length) {
      this.logger.warn(`Recovery: requeued ${report.requeued.join(', ') || '-'}; failed ${report.failed.join(', ') || '-'}`);
    }
    return report;
  }

  /** Records WORKER_LOST for a RUNNING attempt whose job is gone or failed. */
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

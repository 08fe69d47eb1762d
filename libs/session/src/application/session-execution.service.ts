import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LOCK_PORT, LockError, LockErrorCode, LockPort } from '@app/locking';
import { WORKSPACE_PORT, WorkspaceError, WorkspaceErrorCode, WorkspacePort } from '@app/workspace';
import { Session } from '../domain/session';
import { turnPolicyOf } from '../domain/session-agent';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode, SessionError, SessionErrorCode } from '../domain/session.errors';
import {
  CODING_AGENT,
  CodingAgentPort,
  CodingTurnOutcome,
  CodingTurnProgress,
  CodingTurnRef,
  CodingTurnRequest,
} from './ports/coding-agent.port';
import { AGENT_DIRECTORY, AgentDirectoryPort } from './ports/agent-directory.port';
import { APPROVAL_GATE, ApprovalGatePort } from './ports/approval-gate.port';
import { PermissionDecider } from './permission-decider';
import { RUN_HEARTBEAT, RunHeartbeatPort } from './ports/run-heartbeat.port';
import { progressEvent, SESSION_EVENTS, SessionEventsPort } from './ports/session-events.port';
import { SessionRunJob } from './ports/session-queue.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';

/** How often a worker beats for its running sessions and looks for cancel requests whose signal was lost. */
export const WATCH_INTERVAL_MS = 3_000;
/** A running session's heartbeat outlives a few missed beats (Redis blips, a busy event loop). */
export const HEARTBEAT_TTL_MS = 4 * WATCH_INTERVAL_MS;
/**
 * A run's workspace lease, renewed every third of it while the run lives. It outlives the time
 * BullMQ takes to hand a dead worker's job to another worker (2 x WORKER_LEASE_SECONDS), so the
 * resuming run takes the lease over (reclaim) before a waiting session could get the workspace
 * while the dead worker's OpenCode turn may still be writing there.
 */
export function workspaceLockTtlMs(workerLeaseSeconds: number): number {
  return Math.max(30_000, 3 * workerLeaseSeconds * 1000);
}
const MAX_CONFLICT_RETRIES = 8;
/** After the turn, how long its approval decisions may take to be recorded and announced. */
const APPROVALS_SETTLE_MS = 5_000;

type AbortReason = 'cancel' | 'timeout' | 'lock-lost';

/** The lock a session holds on its workspace for its whole run (symlinks resolved: one directory, one lock). */
export function workspaceLockResource(canonicalWorkspace: string): string {
  return `workspace:${canonicalWorkspace}`;
}

/**
 * The worker's use case: run one attempt of a session on the coding agent, from QUEUED to
 * a final status. Idempotent: a job that runs again (retried, or resumed after its worker
 * was lost) continues from what the row and the OpenCode session say, and never sends the
 * prompt twice.
 */
@Injectable()
export class SessionExecutionService {
  private readonly logger = new Logger(SessionExecutionService.name);
  /** Sessions this process is running, so that a cancel signal can reach them. */
  private readonly running = new Map<string, AbortController>();
  /** Sessions this process holds QUEUED while they wait for their workspace. */
  private readonly waiting = new Map<string, AbortController>();
  private watch?: NodeJS.Timeout;

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(CODING_AGENT) private readonly codingAgent: CodingAgentPort,
    @Inject(RUN_HEARTBEAT) private readonly heartbeat: RunHeartbeatPort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    private readonly config: AppConfig,
    @Inject(AGENT_DIRECTORY) private readonly agents: AgentDirectoryPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Optional() @Inject(SESSION_EVENTS) private readonly events: SessionEventsPort | null = null,
    /** Without it a permission request is refused at once (nothing waits on a person nobody asked). */
    @Optional() @Inject(APPROVAL_GATE) private readonly approvals: ApprovalGatePort | null = null,
  ) {}

  /** Called for every cancel signal; only the process running (or holding) the session acts on it. */
  onCancelRequested(sessionId: string): void {
    this.running.get(sessionId)?.abort('cancel' satisfies AbortReason);
    this.waiting.get(sessionId)?.abort('the session was cancelled or settled while it waited');
  }

  get activeSessionIds(): string[] {
    return [...this.running.keys()];
  }

  /** Sessions waiting QUEUED in this process for their workspace lock. */
  get waitingSessionIds(): string[] {
    return [...this.waiting.keys()];
  }

  async run(job: SessionRunJob): Promise<void> {
    const queued = await this.sessions.findById(job.sessionId);
    if (!queued || queued.attempt !== job.attempt) return; // deleted or superseded by a retry
    if (queued.status !== SessionStatus.QUEUED && queued.status !== SessionStatus.RUNNING) return;
    const lease = await this.lockWorkspace(job, queued);
    if (!lease) return;
    try {
      await this.runHoldingWorkspace(job, lease);
    } finally {
      await this.locks
        .release(lease)
        .catch((err: Error) => this.logger.warn(`Could not release ${lease.resource} (it expires on its own): ${err.message}`));
    }
  }

  /**
   * Waits, QUEUED and in arrival order, until no other session runs in this workspace. Gives up
   * (TIMED_OUT, WORKSPACE_BUSY) after the session's own timeout, or when it is cancelled meanwhile.
   */
  private async lockWorkspace(job: SessionRunJob, session: Session): Promise<Lease | null> {
    const { workspace, timeoutSeconds } = session.snapshot();
    const resource = workspaceLockResource(await this.workspaces.canonical(workspace));
    const controller = new AbortController();
    this.waiting.set(job.sessionId, controller);
    this.ensureWatching();
    void this.heartbeat.beat([job.sessionId], HEARTBEAT_TTL_MS).catch(() => undefined);
    try {
      return await this.locks.acquire(resource, {
        owner: `session:${job.sessionId}`,
        ttlMs: workspaceLockTtlMs(this.config.workerLeaseSeconds),
        waitTimeoutMs: timeoutSeconds * 1000,
        signal: controller.signal,
        // Resuming after a lost worker: take over the lease that worker still holds.
        reclaim: session.status === SessionStatus.RUNNING,
      });
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
      // Cancelled or settled meanwhile: nothing to do. (Aborted because the process is shutting
      // down, the error goes on: the job is retried elsewhere.)
      if (err.code === LockErrorCode.LOCK_ABORTED && controller.signal.aborted) return null;
      if (err.code === LockErrorCode.LOCK_TIMEOUT) {
        await this.mutate(job, session, (s) => s.timeOutWaiting(resource), SessionStatus.QUEUED);
        return null;
      }
      throw err; // Redis unreachable: the job is retried
    } finally {
      this.waiting.delete(job.sessionId);
    }
  }

  private async runHoldingWorkspace(job: SessionRunJob, lease: Lease): Promise<void> {
    const claimed = await this.claim(job);
    if (!claimed) return;
    const { session, resume } = claimed;
    const request = toTurnRequest(session);

    // Checked again right before the agent starts: a symlink may have been swapped since creation.
    try {
      request.workspace = await this.workspaces.recheck(request.workspace);
    } catch (err) {
      const outside = err instanceof WorkspaceError && err.code === WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS;
      const failure = outside
        ? { code: RunFailureCode.WORKSPACE_OUTSIDE_ROOTS, message: `${message(err)}; the run was refused` }
        : { code: RunFailureCode.WORKSPACE_MISSING, message: `workspace ${request.workspace} is gone` };
      await this.mutate(job, session, (s) => s.fail(failure, null));
      return;
    }

    let current: Session | null = session;
    let ref = turnRefOf(session);
    let resumeTurn = resume && ref !== null;
    if (!ref) {
      try {
        ref = await this.codingAgent.openTurn(request);
      } catch (err) {
        await this.mutate(job, current, (s) =>
          s.fail({ code: RunFailureCode.OPENCODE_UNAVAILABLE, message: `could not open a turn: ${message(err)}` }, null),
        );
        return;
      }
      const opened = ref;
      // Persisted before the prompt goes out, so that a resumed job finds the turn.
      current = await this.mutate(job, current, (s) => s.attachTurn(opened.opencodeSessionId, opened.messageId));
      if (!current) return; // cancelled, deleted or retried meanwhile
      resumeTurn = false;
    }

    const outcome = await this.follow(job, current, ref, request, resumeTurn, lease);
    const finished = await this.mutate(job, current, (s) => applyOutcome(s, outcome.result, outcome.abortReason, resume, lease));
    if (finished) await this.reportRun(finished);
  }

  /**
   * Adds the run to its agent's performance figures. Runs ended by the infrastructure (a lost
   * worker or workspace lock) say nothing about the agent and are left out. Best effort: a
   * failure here is logged, never turned into a failed session.
   */
  private async reportRun(session: Session): Promise<void> {
    const s = session.snapshot();
    if (!s.assignment || !s.startedAt || !s.finishedAt) return;
    if (s.error?.code === RunFailureCode.WORKSPACE_LOCK_LOST || s.error?.code === RunFailureCode.WORKER_LOST) return;
    const outcome = s.status as 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED';
    await this.agents
      .recordRun({
        agentId: s.assignment.agentId,
        sessionId: s.id,
        attempt: s.attempt,
        outcome,
        durationMs: s.finishedAt.getTime() - s.startedAt.getTime(),
        inputTokens: s.usage?.inputTokens ?? 0,
        outputTokens: s.usage?.outputTokens ?? 0,
        costUsd: s.usage?.costUsd ?? 0,
        finishedAt: s.finishedAt,
        resultText: s.result?.summary ?? null,
        reviewOf: s.assignment.reviewOf,
      })
      .catch((err: Error) => this.logger.warn(`Could not record the run of session ${s.id} for agent ${s.assignment?.agentName}: ${err.message}`));
  }

  /** QUEUED → RUNNING, or picks up a RUNNING session whose worker was lost. */
  private async claim(job: SessionRunJob): Promise<{ session: Session; resume: boolean } | null> {
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const session = await this.sessions.findById(job.sessionId);
      if (!session || session.attempt !== job.attempt) return null; // deleted or superseded by a retry
      if (session.status === SessionStatus.RUNNING) {
        this.logger.warn(`Resuming session ${session.id} (attempt ${job.attempt}) after its worker was lost`);
        return { session, resume: true };
      }
      if (session.status !== SessionStatus.QUEUED) return null; // finished or cancelled meanwhile
      session.markRunning();
      try {
        await this.sessions.update(session);
        return { session, resume: false };
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
      }
    }
    throw new Error(`session ${job.sessionId}: too many concurrent changes while claiming it`);
  }

  private async follow(
    job: SessionRunJob,
    session: Session,
    ref: CodingTurnRef,
    request: CodingTurnRequest,
    resume: boolean,
    lease: Lease,
  ): Promise<{ result: CodingTurnOutcome; abortReason?: AbortReason }> {
    const controller = new AbortController();
    this.running.set(job.sessionId, controller);
    // Lost workspace lock: stop OpenCode writing before another session may start there. Taken
    // over by a newer run of this same session (this worker was presumed dead), the turn is the
    // other run's now: keep following it without aborting it; the first to record the outcome wins.
    const onLeaseLost = () => {
      if (LockError.isTakeover(lease.signal.reason)) {
        this.logger.warn(`Session ${job.sessionId}: another worker resumed this run; leaving the turn to it`);
        return;
      }
      controller.abort('lock-lost' satisfies AbortReason);
    };
    if (lease.signal.aborted) onLeaseLost();
    lease.signal.addEventListener('abort', onLeaseLost, { once: true });
    const { startedAt, timeoutSeconds } = session.snapshot();
    const deadline = (startedAt ?? new Date()).getTime() + timeoutSeconds * 1000;
    const timer = setTimeout(() => controller.abort('timeout' satisfies AbortReason), Math.max(0, deadline - Date.now()));
    this.ensureWatching();
    void this.heartbeat.beat([job.sessionId], HEARTBEAT_TTL_MS).catch(() => undefined);
    if (session.cancelRequested) controller.abort('cancel' satisfies AbortReason);
    const permissions = this.approvals
      ? new PermissionDecider(this.approvals, this.events, { sessionId: job.sessionId, attempt: job.attempt }, this.config.approvalTimeoutSeconds)
      : undefined;
    try {
      // Progress is published as it comes, before runTurn resolves, and so before the final
      // transition, which this process publishes after it commits it: a stream client gets the
      // last progress of the run before the run's final status.
      const result = await this.codingAgent.runTurn(ref, request, {
        signal: controller.signal,
        resume,
        onProgress: (progress) => this.publishProgress(job, progress),
        onPermission: permissions?.decide,
      });
      await permissions?.finish(APPROVALS_SETTLE_MS);
      const abortReason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined;
      return { result: permissions ? permissions.explain(result) : result, abortReason };
    } finally {
      clearTimeout(timer);
      lease.signal.removeEventListener('abort', onLeaseLost);
      this.running.delete(job.sessionId);
    }
  }

  /** Best effort: a lost progress event costs a stream client some detail, never the run. */
  private publishProgress(job: SessionRunJob, progress: CodingTurnProgress): void {
    if (!this.events) return;
    this.events
      .publish(progressEvent(job.sessionId, job.attempt, progress))
      .catch((err: Error) => this.logger.debug(`Could not publish the progress of session ${job.sessionId}: ${err.message}`));
  }

  /**
   * While this process runs sessions, every few seconds: one heartbeat for all of them (so that
   * recovery knows a live worker has them), and one query for cancel requests whose signal was lost.
   */
  private ensureWatching(): void {
    if (this.watch) return;
    this.watch = setInterval(() => void this.watchRunning(), WATCH_INTERVAL_MS);
    this.watch.unref();
  }

  private async watchRunning(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) {
      clearInterval(this.watch);
      this.watch = undefined;
      return;
    }
    const ids = [...new Set([...this.running.keys(), ...this.waiting.keys()])];
    await this.heartbeat.beat(ids, HEARTBEAT_TTL_MS).catch(() => undefined);
    const toStop = await this.sessions.findToStop(ids).catch(() => []);
    for (const id of toStop) this.onCancelRequested(id);
  }

  /**
   * Applies a change to this attempt while it is RUNNING and writes it version-checked. The
   * first try uses the copy in hand; after a concurrent edit (VERSION_CONFLICT) it reloads and
   * reapplies. Returns the written session, or null when the attempt is no longer RUNNING.
   */
  private async mutate(
    job: SessionRunJob,
    inHand: Session | null,
    change: (s: Session) => void,
    expected = SessionStatus.RUNNING,
  ): Promise<Session | null> {
    let session = inHand;
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      session ??= await this.sessions.findById(job.sessionId, { includeDeleted: true });
      if (!session || session.attempt !== job.attempt || session.status !== expected) return null;
      change(session);
      try {
        await this.sessions.update(session);
        return session;
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
        session = null;
      }
    }
    throw new Error(`session ${job.sessionId}: too many concurrent changes while recording its run`);
  }
}

function applyOutcome(
  session: Session,
  outcome: CodingTurnOutcome,
  abortReason: AbortReason | undefined,
  resumed: boolean,
  lease: Lease,
) {
  const partial = { summary: outcome.summary, filesChanged: outcome.filesChanged };
  if (outcome.status === 'completed') return session.complete(partial, outcome.usage);
  if (abortReason === 'lock-lost') {
    const why = lease.signal.reason instanceof Error ? lease.signal.reason.message : `the lease on ${lease.resource} was lost`;
    return session.fail(
      {
        code: RunFailureCode.WORKSPACE_LOCK_LOST,
        message: `${why}; the OpenCode turn was stopped so that no other session writes to the workspace at the same time; retry the session`,
      },
      outcome.usage,
      new Date(),
      partial,
    );
  }
  if (outcome.status === 'aborted' || abortReason) {
    if (abortReason === 'timeout') return session.timeOut(outcome.usage, new Date(), partial);
    return session.cancel('cancelled by user', outcome.usage, new Date(), partial);
  }
  const error = outcome.error ?? { code: 'OPENCODE_ERROR', message: 'the turn failed without an error message' };
  if (outcome.status === 'lost' && resumed) {
    return session.fail(
      { code: RunFailureCode.WORKER_LOST, message: `the worker running this session was lost and the OpenCode turn could not be resumed: ${error.message}` },
      outcome.usage,
      new Date(),
      partial,
    );
  }
  return session.fail(error, outcome.usage, new Date(), partial);
}

function toTurnRequest(session: Session): CodingTurnRequest {
  const s = session.snapshot();
  return {
    workspace: s.workspace,
    title: s.title,
    prompt: s.prompt,
    agent: s.agent,
    model: s.model ?? undefined,
    system: s.assignment?.systemInstructions || undefined,
    disabledTools: s.assignment?.disabledTools,
    policy: turnPolicyOf(s.assignment),
  };
}

function turnRefOf(session: Session): CodingTurnRef | null {
  const { opencodeSessionId, opencodeMessageId } = session.snapshot();
  return opencodeSessionId && opencodeMessageId ? { opencodeSessionId, messageId: opencodeMessageId } : null;
}

function isVersionConflict(err: unknown): boolean {
  return err instanceof SessionError && err.code === SessionErrorCode.VERSION_CONFLICT;
}


function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

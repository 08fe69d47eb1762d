import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { WORKSPACE_PORT, WorkspaceError, WorkspaceErrorCode, WorkspacePort } from '@app/workspace';
import { errorMessage, RunFailure, ZERO_USAGE } from '@app/shared';
import { Session } from '../domain/session';
import { turnPolicyOf } from '../domain/session-agent';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import { CapacityAdmission } from './capacity-admission';
import { DatabaseWait } from './database-wait';
import { AGENT_DIRECTORY, AgentDirectoryPort, AgentRunReport } from './ports/agent-directory.port';
import { APPROVAL_GATE, ApprovalGatePort } from './ports/approval-gate.port';
import { CODING_TURNS, CodingTurnOutcome, CodingTurnRef, CodingTurnRequest, CodingTurnsPort } from './ports/coding-turns.port';
import { PROVIDER_CAPACITY, ProviderCapacityPort } from './ports/provider-capacity.port';
import { RUN_CONTROL_METRICS, RunControlMetricsPort } from './ports/run-control-metrics.port';
import { RUN_SPENDING, RunSpendingPort } from './ports/run-spending.port';
import { SESSION_EVENTS, SessionEventsPort } from './ports/session-events.port';
import { SESSION_QUEUE, SessionQueuePort, SessionRunJob } from './ports/session-queue.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';
import { FAILOVER_AFTER_NO_TURN, FAILOVER_AFTER_SERVER_LOSS, FAILOVER_LAST_ATTEMPT, lostWithItsServer, RunFailover, SERVER_LOSS_CODES } from './run-failover';
import { RunHandover } from './run-handover';
import { RunPlace, RunPlacement } from './run-placement';
import { Admitted, DONE, RunEnd } from './run-types';
import { RunWatcher } from './run-watcher';
import { RunWrites } from './run-writes';
import { quotaStopOf, stopFailure, TurnWatch } from './turn-watch';
import { WorkspaceLock } from './workplace/workspace-lock';
import { SettledWorktree, WorktreeSlots } from './workplace/worktree-slots';

export { FAILOVER_LAST_ATTEMPT } from './run-failover';
export type { RunEnd } from './run-types';

/** Failures of the infrastructure, not of the agent: they stay out of its performance figures. */
const INFRASTRUCTURE_FAILURES: readonly string[] = [RunFailureCode.WORKSPACE_LOCK_LOST, RunFailureCode.PROVIDER_QUOTA_EXHAUSTED, ...SERVER_LOSS_CODES];

/**
 * The worker's use case: run one attempt of a session as an OpenCode turn, from QUEUED to a
 * final status: lock the workspace, claim the session, check the workspace again, open (or
 * resume) the turn, follow it, record its outcome, report the run to its agent. Idempotent: a
 * job that runs again (retried, or resumed after its worker was lost) continues from what the
 * row and the OpenCode session say, and never sends the prompt twice.
 *
 * Its steps are its parts: RunPlacement (where the run works, and the wait for it), CapacityAdmission
 * (provider capacity), TurnWatch (the turn, followed to its end), RunHandover (a planned stop of
 * this worker), RunFailover (a turn lost with its server runs again), all writing through RunWrites.
 */
@Injectable()
export class SessionExecutionService {
  private readonly logger = new Logger(SessionExecutionService.name);
  private readonly writes: RunWrites;
  private readonly placement: RunPlacement;
  private readonly admission: CapacityAdmission;
  private readonly turnWatch: TurnWatch;
  private readonly handover: RunHandover;
  private readonly failover: RunFailover;

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(CODING_TURNS) private readonly turns: CodingTurnsPort,
    watcher: RunWatcher,
    workspaceLock: WorkspaceLock,
    private readonly slots: WorktreeSlots,
    config: AppConfig,
    @Inject(AGENT_DIRECTORY) private readonly agents: AgentDirectoryPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Optional() @Inject(SESSION_EVENTS) events: SessionEventsPort | null = null,
    /** Without it a permission request is refused at once (nothing waits on a person nobody asked). */
    @Optional() @Inject(APPROVAL_GATE) approvals: ApprovalGatePort | null = null,
    /** Without it a turn lost with its server is not re-run on its own (the session stays FAILED). */
    @Optional() @Inject(SESSION_QUEUE) queue: SessionQueuePort | null = null,
    /** Without it no budget is enforced (nothing is recorded). */
    @Optional() @Inject(RUN_SPENDING) spending: RunSpendingPort | null = null,
    /** Without it no provider limit holds and no model is marked unavailable. */
    @Optional() @Inject(PROVIDER_CAPACITY) capacity: ProviderCapacityPort | null = null,
    @Optional() @Inject(RUN_CONTROL_METRICS) metrics: RunControlMetricsPort | null = null,
    /** Without it a write that finds the database out of reach fails the job at once (BullMQ retries it a few times). */
    @Optional() @Inject(DatabaseWait) databaseWait: DatabaseWait | null = null,
  ) {
    const logger = this.logger;
    this.writes = new RunWrites(sessions, config, databaseWait, logger);
    this.placement = new RunPlacement(workspaceLock, slots, watcher, queue, this.writes, logger);
    this.admission = new CapacityAdmission(turns, capacity, metrics, this.writes, logger);
    this.handover = new RunHandover(queue, this.writes, logger);
    this.failover = new RunFailover(queue, this.writes, logger);
    const onShutdown = (sessionId: string, handOff: () => void) => this.handover.onShutdown(sessionId, handOff);
    this.turnWatch = new TurnWatch({ turns, watcher, config, events, approvals, spending, capacity, metrics, onShutdown }, logger);
  }

  /**
   * Runs the job's attempt. Returns a wait when the session stays (or went back) QUEUED for
   * provider capacity: its model is at its limit or rate-limited, and the run gives its worker back
   * (the job is delayed, no attempt is spent) so that sessions on other models run meanwhile.
   */
  async run(job: SessionRunJob): Promise<RunEnd> {
    const queued = await this.sessions.findById(job.sessionId);
    if (!queued || queued.attempt !== job.attempt) return DONE; // deleted or superseded by a retry
    if (queued.status !== SessionStatus.QUEUED && queued.status !== SessionStatus.RUNNING) return DONE;
    // Its place first: a run that cannot have it now asks no capacity (an admission counts a request toward rpm limits).
    const place = await this.placement.take(job, queued);
    if (!('lease' in place)) return place;
    try {
      const admitted = await this.admission.admit(job, queued);
      if (!admitted) return DONE;
      if (!('model' in admitted)) return admitted; // its place goes to the next in line meanwhile
      try {
        return await this.runInPlace(job, place, admitted);
      } finally {
        await this.admission.release(job, admitted);
      }
    } finally {
      // A turn handed to the next worker keeps its place: that run takes the lease over (same owner).
      if (!this.handover.keepsPlace(place.lease)) await this.placement.release(place);
    }
  }

  /** See RunHandover.handOverRuns: the grace of a planned stop of this worker is over. */
  handOverRuns(): number {
    return this.handover.handOverRuns();
  }

  private async runInPlace(job: SessionRunJob, place: RunPlace, admitted: Admitted): Promise<RunEnd> {
    const claimed = await this.writes.claim(job, place.slot);
    if (!claimed) return DONE;
    const request = await this.turnRequest(job, claimed.session, place.slot);
    if (!request) return DONE;
    if (admitted.model !== admitted.primary || claimed.session.snapshot().model) request.model = admitted.model;
    const control = this.turnWatch.control(job, claimed.session, admitted);
    const refused = await control.open();
    if (refused) {
      await this.writes.mutate(job, claimed.session, (s) => s.fail(refused, null));
      return DONE;
    }
    const turn = await this.openTurn(job, claimed.session, request, claimed.resume);
    if (!turn) {
      await control.finish(ZERO_USAGE);
      return DONE;
    }
    const ended = await this.turnWatch.follow(job, turn.session, turn.ref, request, turn.resume, place.lease, control);
    await control.finish(ended.outcome.usage);
    if (ended.outcome.status === 'detached') return this.handover.handToNextWorker(job, place.lease);
    // A slot whose lease was lost (expired, or taken over by a resumed run of this session) may be
    // someone else's now: its work is theirs to commit (resetSlot commits leftovers to this branch).
    const settled = place.slot && !place.lease.signal.aborted ? await this.settleWorktree(turn.session, place.slot) : null;
    if (ended.abortReason === 'shutdown' && ended.outcome.status !== 'completed') return this.handover.requeueAfterShutdown(job, turn.session, ended, settled);
    const worktree = place.slot !== undefined;
    const waiting = await this.admission.waitAgain(job, turn.session, ended, admitted, settled, worktree);
    if (waiting) return waiting;
    const outcome = settled && 'failure' in settled ? failedBy(ended.outcome, settled.failure) : ended.outcome;
    const stop = control.stop ? stopFailure(control.stop) : quotaStopOf(ended, admitted.model);
    const record = (s: Session) => {
      if (settled && 'changes' in settled) s.recordChanges(settled.changes);
      s.recordTurnOutcome(outcome, {
        abortReason: stop && !ended.abortReason ? 'quota' : ended.abortReason,
        resumed: claimed.resume,
        lockLostReason: ended.lockLostReason,
        stop,
      });
    };
    const finished = await this.failover.endOrFailOver(job, turn.session, record, (failed) => lostWithItsServer(failed, ended, worktree), FAILOVER_AFTER_SERVER_LOSS);
    if (finished) await this.reportRun(finished);
    return DONE;
  }

  /**
   * Commits the run's work on its branch. A failure to commit fails the session (WORKTREE_FAILED);
   * the work stays in the slot, and whoever takes the slot next commits it to this branch first.
   * A resolver whose files still hold conflict markers fails (MERGE_CONFLICT_UNRESOLVED).
   */
  private async settleWorktree(session: Session, slot: string): Promise<SettledWorktree | { failure: RunFailure }> {
    let settled: SettledWorktree;
    try {
      settled = await this.slots.settle(session, slot);
    } catch (err) {
      this.logger.error(`Session ${session.id}: could not commit its work in ${slot}: ${errorMessage(err)}`);
      return { failure: { code: RunFailureCode.WORKTREE_FAILED, message: `the run's work could not be committed on its branch: ${errorMessage(err)}` } };
    }
    if (settled.unresolved.length === 0) return settled;
    const message = `conflict markers are still in ${settled.unresolved.join(', ')}`;
    return { ...settled, failure: { code: RunFailureCode.MERGE_CONFLICT_UNRESOLVED, message } };
  }

  /**
   * What the turn is sent, its workspace checked again right before the turn starts (a symlink
   * may have been swapped since creation). A workspace that fails the check fails the session.
   * In a worktree slot the turn works in the slot, readied for this session unless a lost worker
   * already started its turn there; a slot that cannot be readied fails the session (WORKTREE_FAILED).
   */
  private async turnRequest(job: SessionRunJob, session: Session, slot?: string): Promise<CodingTurnRequest | null> {
    const request = toTurnRequest(session);
    try {
      request.workspace = await this.workspaces.recheck(request.workspace);
    } catch (err) {
      const outside = err instanceof WorkspaceError && err.code === WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS;
      const failure = outside
        ? { code: RunFailureCode.WORKSPACE_OUTSIDE_ROOTS, message: `${errorMessage(err)}; the run was refused` }
        : { code: RunFailureCode.WORKSPACE_MISSING, message: `workspace ${request.workspace} is gone` };
      await this.writes.mutate(job, session, (s) => s.fail(failure, null));
      return null;
    }
    if (!slot) return request;
    try {
      request.workspace = turnRefOf(session) ? this.slots.directoryIn(session, slot) : await this.slots.prepare(session, slot);
      if (!(await this.workspaces.isDirectory(request.workspace))) {
        throw new Error(`${session.worktree?.subdirectory} does not exist on branch ${session.worktree?.branch}`);
      }
      return request;
    } catch (err) {
      this.logger.error(`Session ${session.id}: could not ready its worktree ${slot}: ${errorMessage(err)}`);
      const failure = { code: RunFailureCode.WORKTREE_FAILED, message: `its worktree could not be readied: ${errorMessage(err)}` };
      await this.writes.mutate(job, session, (s) => s.fail(failure, null));
      return null;
    }
  }

  /**
   * The turn of this attempt: the one a lost worker already opened (followed again when this run
   * resumes it), or a new one, recorded on the session before its prompt goes out so that a
   * resumed job finds it. Null when no turn can be opened (the session fails) or the session was
   * cancelled, deleted or retried meanwhile.
   */
  private async openTurn(
    job: SessionRunJob,
    session: Session,
    request: CodingTurnRequest,
    resume: boolean,
  ): Promise<{ session: Session; ref: CodingTurnRef; resume: boolean } | null> {
    const opened = turnRefOf(session);
    if (opened) return { session, ref: opened, resume };
    let ref: CodingTurnRef;
    try {
      ref = await this.turns.openTurn(request);
    } catch (err) {
      const failure = { code: RunFailureCode.OPENCODE_UNAVAILABLE, message: `could not open a turn: ${errorMessage(err)}` };
      // No prompt went out: always safe to run again, on whichever server placement picks then.
      await this.failover.endOrFailOver(job, session, (s) => s.fail(failure, null), (failed) => failed.attempt < FAILOVER_LAST_ATTEMPT, FAILOVER_AFTER_NO_TURN);
      return null;
    }
    const attached = await this.writes.mutate(job, session, (s) => s.attachTurn(ref.opencodeSessionId, ref.messageId, ref.serverId ?? null));
    return attached ? { session: attached, ref, resume: false } : null;
  }

  /**
   * Adds the run to its agent's performance figures. Best effort: a failure here is logged,
   * never turned into a failed session.
   */
  private async reportRun(session: Session): Promise<void> {
    const report = runReportOf(session);
    if (!report) return;
    await this.agents
      .recordRun(report)
      .catch((err: Error) =>
        this.logger.warn(`Could not record the run of session ${report.sessionId} for agent ${session.snapshot().assignment?.agentName}: ${err.message}`),
      );
  }
}

/**
 * The run as its agent's figures count it: only sessions run by an orchestrator agent, and not
 * runs the infrastructure ended (a lost worker or workspace lock), which say nothing about the agent.
 */
function runReportOf(session: Session): AgentRunReport | null {
  const s = session.snapshot();
  if (!s.assignment || !s.startedAt || !s.finishedAt) return null;
  if (s.error && INFRASTRUCTURE_FAILURES.includes(s.error.code)) return null;
  return {
    agentId: s.assignment.agentId,
    sessionId: s.id,
    attempt: s.attempt,
    outcome: s.status as AgentRunReport['outcome'],
    durationMs: s.finishedAt.getTime() - s.startedAt.getTime(),
    inputTokens: s.usage?.inputTokens ?? 0,
    outputTokens: s.usage?.outputTokens ?? 0,
    costUsd: s.usage?.costUsd ?? 0,
    finishedAt: s.finishedAt,
    resultText: s.result?.summary ?? null,
    reviewOf: s.assignment.reviewOf,
  };
}

/** A completed turn whose work the orchestrator could not keep ends failed; any other ending stays as it was. */
function failedBy(outcome: CodingTurnOutcome, failure: RunFailure): CodingTurnOutcome {
  return outcome.status === 'completed' ? { ...outcome, status: 'failed', error: failure } : outcome;
}

function toTurnRequest(session: Session): CodingTurnRequest {
  const s = session.snapshot();
  return {
    workspace: s.workspace,
    title: s.title,
    prompt: s.prompt,
    agent: s.opencodeAgent,
    model: s.model ?? undefined,
    system: s.assignment?.systemInstructions || undefined,
    disabledTools: s.assignment?.disabledTools,
    policy: turnPolicyOf(s.assignment),
  };
}

function turnRefOf(session: Session): CodingTurnRef | null {
  const { opencodeSessionId, opencodeMessageId, opencodeServerId } = session.snapshot();
  if (!opencodeSessionId || !opencodeMessageId) return null;
  return { opencodeSessionId, messageId: opencodeMessageId, ...(opencodeServerId ? { serverId: opencodeServerId } : {}) };
}

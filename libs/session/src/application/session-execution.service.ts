import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LockError } from '@app/locking';
import { WORKSPACE_PORT, WorkspaceError, WorkspaceErrorCode, WorkspacePort } from '@app/workspace';
import { Session, WORKER_SHUTDOWN } from '../domain/session';
import { turnPolicyOf } from '../domain/session-agent';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import type { TurnAbortReason } from '../domain/turn-outcome';
import {
  CODING_TURNS,
  CodingTurnOutcome,
  CodingTurnProgress,
  CodingTurnRef,
  CodingTurnRequest,
  CodingTurnsPort,
} from './ports/coding-turns.port';
import { AGENT_DIRECTORY, AgentDirectoryPort, AgentRunReport } from './ports/agent-directory.port';
import { APPROVAL_GATE, ApprovalGatePort } from './ports/approval-gate.port';
import { PermissionDecider } from './permission-decider';
import { progressEvent, SESSION_EVENTS, SessionEventsPort } from './ports/session-events.port';
import { SESSION_QUEUE, SessionQueuePort, SessionRunJob } from './ports/session-queue.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';
import { retryOnConflict } from './retry-on-conflict';
import { RunWatcher } from './run-watcher';
import { DatabaseWait } from './database-wait';
import { PLACE_KEPT_MS, placeRetryMs, WorkspaceLock } from './workplace/workspace-lock';
import { SettledWorktree, WorktreeSlots } from './workplace/worktree-slots';
import { errorMessage, RunFailure, ZERO_USAGE } from '@app/shared';
import { budgetEvent } from './ports/session-events.port';
import { CapacityPermitRef, PROVIDER_CAPACITY, ProviderCapacityPort } from './ports/provider-capacity.port';
import { RUN_CONTROL_METRICS, RunControlMetricsPort } from './ports/run-control-metrics.port';
import { RUN_SPENDING, RunSpendingPort } from './ports/run-spending.port';
import { quotaFailure, TurnControl, TurnStop } from './turn-control';

/** How many times a change of the run is retried after concurrent edits of the session. */
const MAX_CONFLICT_RETRIES = 8;
/** A turn lost with its server is re-run automatically up to this attempt (then the session stays FAILED). */
export const FAILOVER_LAST_ATTEMPT = 3;
/** How a turn lost with its server ends the session: lost by the server, or resumed and not found. */
const SERVER_LOSS_CODES: readonly string[] = [RunFailureCode.OPENCODE_UNAVAILABLE, 'OPENCODE_SESSION_LOST', RunFailureCode.WORKER_LOST];

/** Failures of the infrastructure, not of the agent: they stay out of its performance figures. */
const INFRASTRUCTURE_FAILURES: readonly string[] = [RunFailureCode.WORKSPACE_LOCK_LOST, RunFailureCode.PROVIDER_QUOTA_EXHAUSTED, ...SERVER_LOSS_CODES];
/** How a turn ends when the provider gave up on rate limits (OpenCode's own retries spent). */
const PROVIDER_RATE_LIMITED = 'PROVIDER_RATE_LIMITED';

/**
 * How a run of a job ended: done (whatever the session's status), or to be run again after a wait
 * (QUEUED, waiting for provider capacity, or for its place: its workspace or a worktree slot).
 */
export interface RunEnd {
  waitMs?: number;
  /** What the wait is for: its place ('place'; the job may be woken early), else provider capacity. */
  waitingFor?: 'place';
  /**
   * A planned stop of this worker gave the run up (handOverRuns). follow: the session stays
   * RUNNING and its OpenCode turn goes on (its server outlives this worker); the job goes back to
   * the queue as it is, and the next worker follows the turn. new-attempt: the turn stopped with
   * this worker's server; the session was queued again as a new attempt (its own job).
   */
  handedOver?: 'follow' | 'new-attempt';
}
const DONE: RunEnd = {};
const HANDED_TO_NEXT_WORKER: RunEnd = { handedOver: 'follow' };
const REQUEUED_AS_NEW_ATTEMPT: RunEnd = { handedOver: 'new-attempt' };

/** The model a run was admitted on, and the capacity it holds there (none without provider limits). */
interface Admitted {
  model: string;
  /** The model of the session, or the server's default: what a fallback stands in for. */
  primary: string;
  candidates: string[];
  permit: CapacityPermitRef | null;
}

/** After the turn, how long its approval decisions may take to be recorded and announced. */
const APPROVALS_SETTLE_MS = 5_000;

/** Where a run works: its workspace under the workspace lock, or a worktree slot under the slot's lock. */
interface RunPlace {
  lease: Lease;
  slot?: string;
}

/** How a followed turn ended, with what the worker knows about why. */
interface FollowedTurn {
  outcome: CodingTurnOutcome;
  abortReason?: TurnAbortReason;
  lockLostReason?: string;
  /** The turn ran a tool (it may have changed the workspace): a shared session is then not re-run on its own. */
  toolsRan: boolean;
  /** What the turn's control decided (a budget, runaway, quota or throttle stop), if anything. */
  control: TurnControl;
}

/**
 * The worker's use case: run one attempt of a session as an OpenCode turn, from QUEUED to a
 * final status: lock the workspace, claim the session, check the workspace again, open (or
 * resume) the turn, follow it, record its outcome, report the run to its agent. Idempotent: a
 * job that runs again (retried, or resumed after its worker was lost) continues from what the
 * row and the OpenCode session say, and never sends the prompt twice.
 */
@Injectable()
export class SessionExecutionService {
  private readonly logger = new Logger(SessionExecutionService.name);

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(CODING_TURNS) private readonly turns: CodingTurnsPort,
    private readonly watcher: RunWatcher,
    private readonly workspaceLock: WorkspaceLock,
    private readonly slots: WorktreeSlots,
    private readonly config: AppConfig,
    @Inject(AGENT_DIRECTORY) private readonly agents: AgentDirectoryPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Optional() @Inject(SESSION_EVENTS) private readonly events: SessionEventsPort | null = null,
    /** Without it a permission request is refused at once (nothing waits on a person nobody asked). */
    @Optional() @Inject(APPROVAL_GATE) private readonly approvals: ApprovalGatePort | null = null,
    /** Without it a turn lost with its server is not re-run on its own (the session stays FAILED). */
    @Optional() @Inject(SESSION_QUEUE) private readonly queue: SessionQueuePort | null = null,
    /** Without it no budget is enforced (nothing is recorded). */
    @Optional() @Inject(RUN_SPENDING) private readonly spending: RunSpendingPort | null = null,
    /** Without it no provider limit holds and no model is marked unavailable. */
    @Optional() @Inject(PROVIDER_CAPACITY) private readonly capacity: ProviderCapacityPort | null = null,
    @Optional() @Inject(RUN_CONTROL_METRICS) private readonly metrics: RunControlMetricsPort | null = null,
    /** Without it a write that finds the database out of reach fails the job at once (BullMQ retries it a few times). */
    @Optional() @Inject(DatabaseWait) private readonly databaseWait: DatabaseWait | null = null,
  ) {
    this.workspaceLock.onPlaceReady((sessionId) => this.wakeParkedRun(sessionId));
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
    const place = await this.takePlace(job, queued);
    if (!('lease' in place)) return place;
    try {
      const admitted = await this.admit(job, queued);
      if (!admitted) return DONE;
      if (!('model' in admitted)) return admitted; // its place goes to the next in line meanwhile
      try {
        return await this.runInPlace(job, place, admitted);
      } finally {
        if (admitted.permit) {
          await this.capacity?.release(admitted.permit).catch((err: Error) => this.logger.warn(`Session ${job.sessionId}: could not release its capacity on ${admitted.model}: ${err.message}`));
        }
      }
    } finally {
      // A turn handed to the next worker keeps its place: that run takes the lease over (same owner).
      const handedOver = this.handedOverPlaces.delete(place.lease);
      if (!handedOver && place.slot) await this.slots.release(place.lease);
      else if (!handedOver) await this.workspaceLock.release(place.lease);
    }
  }

  /**
   * Provider capacity for the run: the first usable of its model (or the server's default) and its
   * agent's fallback models (usable: not out of quota nor cooling down after a 429; a saturated one
   * gives way to the next with room), admitted under PROVIDER_LIMITS. Not admitted: the run waits QUEUED
   * (returns the wait), times out after the session's timeout, or fails at once
   * (PROVIDER_QUOTA_EXHAUSTED) when every model it may use is out of quota. A resumed run keeps the
   * model its turn runs on, admitted or not (the turn is already on the provider).
   */
  private async admit(job: SessionRunJob, session: Session): Promise<Admitted | RunEnd | null> {
    const s = session.snapshot();
    const primary = s.model ?? this.turns.defaultModel() ?? 'default';
    const candidates = [...new Set([primary, ...(s.assignment?.fallbackModels ?? [])])];
    if (!this.capacity) return { model: s.modelUsed ?? primary, primary, candidates, permit: null };
    const resumed = session.status === SessionStatus.RUNNING;
    const usable = resumed ? [] : await this.capacity.usable(candidates);
    let model = resumed ? (s.modelUsed ?? primary) : (usable[0] ?? candidates[0]);
    let admission = await this.capacity.admit({ sessionId: job.sessionId, model });
    // Saturated (at its concurrency, rpm or tpm limit): the next usable fallback model, if one has room.
    for (const next of usable.slice(1)) {
      if (admission.admitted) break;
      const tried = await this.capacity.admit({ sessionId: job.sessionId, model: next });
      if (tried.admitted) [model, admission] = [next, tried];
    }
    if (admission.admitted || resumed) {
      const permit = admission.admitted ? admission.permit : null;
      if (!resumed && s.modelUsed !== model) {
        const recorded = await this.mutate(job, session, (x) => x.useModel(model), SessionStatus.QUEUED);
        if (!recorded) {
          if (permit) await this.capacity.release(permit);
          return null;
        }
        if (model !== primary) {
          this.metrics?.fallback(primary, model);
          this.logger.warn(`Session ${job.sessionId}: runs on fallback model ${model} (${primary} is not usable now)`);
        }
      }
      return { model, primary, candidates, permit };
    }
    if (admission.reason === 'unavailable' && usable.length === 0) {
      const fallbacks = candidates.length > 1 ? `none of its fallback models (${candidates.slice(1).join(', ')}) is usable either` : 'it has no fallback model';
      const failure = { code: RunFailureCode.PROVIDER_QUOTA_EXHAUSTED, message: `${admission.message}; ${fallbacks}; the session did not run` };
      await this.mutate(job, session, (x) => x.failUnrun(failure), SessionStatus.QUEUED);
      return null;
    }
    const waitedMs = Date.now() - (s.queuedAt ?? s.createdAt).getTime();
    if (waitedMs + admission.retryInMs > s.timeoutSeconds * 1000) {
      await this.mutate(job, session, (x) => x.timeOutThrottled(model, admission.message), SessionStatus.QUEUED);
      return null;
    }
    return { waitMs: admission.retryInMs };
  }

  /**
   * Where the run works, taken without waiting: a worktree slot of its repository (isolation
   * "worktree"), or its workspace when no other session runs there ("shared"). Busy: see waitForPlace.
   */
  private async takePlace(job: SessionRunJob, session: Session): Promise<RunPlace | RunEnd> {
    const taken = session.worktree ? await this.slots.take(session) : await this.workspaceLock.take(session);
    if (taken.kind === 'held') {
      this.forgetPlace(job.sessionId);
      return { lease: taken.lease, slot: taken.slot };
    }
    return this.waitForPlace(job, session, taken.resource);
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
      await this.mutate(job, session, (s) => s.fail(failure, s.snapshot().usage));
      return DONE;
    }
    const waiting = session.snapshot().waitingSince ? session : await this.mutate(job, session, (s) => s.waitForPlace(new Date(now)), SessionStatus.QUEUED);
    if (!waiting) {
      await leave(); // cancelled, deleted or retried meanwhile
      return DONE;
    }
    const waitedMs = now - (waiting.snapshot().waitingSince ?? new Date(now)).getTime();
    const remainingMs = timeoutSeconds * 1000 - waitedMs;
    if (remainingMs > 0) return this.parkRun(job, leave, Math.min(placeRetryMs(waitedMs), remainingMs));
    this.forgetPlace(job.sessionId);
    await leave();
    await this.mutate(job, waiting, (s) => s.timeOutWaiting(resource), SessionStatus.QUEUED);
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

  /** Runs this process parked (their jobs delayed while they wait for their place), by session id. */
  private readonly parkedRuns = new Map<string, { job: SessionRunJob; until: number }>();

  private async runInPlace(job: SessionRunJob, place: RunPlace, admitted: Admitted): Promise<RunEnd> {
    const claimed = await this.claim(job, place.slot);
    if (!claimed) return DONE;
    const request = await this.turnRequest(job, claimed.session, place.slot);
    if (!request) return DONE;
    if (admitted.model !== admitted.primary || claimed.session.snapshot().model) request.model = admitted.model;
    const control = this.turnControl(job, claimed.session, admitted);
    const refused = await control.open();
    if (refused) {
      await this.mutate(job, claimed.session, (s) => s.fail(refused, null));
      return DONE;
    }
    const turn = await this.openTurn(job, claimed.session, request, claimed.resume);
    if (!turn) {
      await control.finish(ZERO_USAGE);
      return DONE;
    }
    const ended = await this.follow(job, turn.session, turn.ref, request, turn.resume, place.lease, control);
    await control.finish(ended.outcome.usage);
    if (ended.outcome.status === 'detached') {
      this.handedOverPlaces.add(place.lease);
      this.logger.log(`Session ${job.sessionId}: handed over; its OpenCode turn goes on, for the next worker to follow`);
      return HANDED_TO_NEXT_WORKER;
    }
    // A slot whose lease was lost (expired, or taken over by a resumed run of this session) may be
    // someone else's now: its work is theirs to commit (resetSlot commits leftovers to this branch).
    const settled = place.slot && !place.lease.signal.aborted ? await this.settleWorktree(turn.session, place.slot) : null;
    if (ended.abortReason === 'shutdown' && ended.outcome.status !== 'completed') return this.requeueAfterShutdown(job, turn.session, ended, settled);
    const waiting = await this.waitAgain(job, turn.session, ended, admitted, settled, place.slot !== undefined);
    if (waiting) return waiting;
    const outcome = settled && 'failure' in settled ? failedBy(ended.outcome, settled.failure) : ended.outcome;
    const stop = control.stop ? stopFailure(control.stop) : quotaStopOf(ended, admitted.model);
    const finished = await this.mutate(job, turn.session, (s) => {
      if (settled && 'changes' in settled) s.recordChanges(settled.changes);
      s.recordTurnOutcome(outcome, {
        abortReason: stop && !ended.abortReason ? 'quota' : ended.abortReason,
        resumed: claimed.resume,
        lockLostReason: ended.lockLostReason,
        stop,
      });
    });
    if (finished) await this.reportRun(finished);
    if (finished && failsOver(finished, ended, place.slot !== undefined)) await this.failOver(job, finished);
    return DONE;
  }

  /**
   * A turn that goes back to the queue instead of ending, on the same attempt: rate-limited before
   * its first step (OpenCode's retries spent or the control stopped it), or its model's quota
   * exhausted while a fallback model is usable and nothing of the run would be lost (a worktree
   * session keeps its work on its branch; a shared one only when no tool ran).
   */
  private async waitAgain(
    job: SessionRunJob,
    session: Session,
    ended: FollowedTurn,
    admitted: Admitted,
    settled: SettledWorktree | { failure: RunFailure } | null,
    worktree: boolean,
  ): Promise<RunEnd | null> {
    if (ended.outcome.status === 'completed' || (settled && 'failure' in settled)) return null;
    const stop = ended.control.stop;
    const untouched = !ended.toolsRan && !ended.control.ranTools;
    let waitMs: number | undefined;
    let reason = '';
    if (stop?.reason === 'throttled') {
      waitMs = stop.waitMs;
      reason = stop.message;
    } else if (ended.outcome.error?.code === PROVIDER_RATE_LIMITED && untouched && !ended.abortReason && this.capacity) {
      waitMs = await this.capacity.rateLimited(admitted.model).catch(() => 5_000);
      reason = `the provider of ${admitted.model} kept rate-limiting the turn (${ended.outcome.error.message}); back in the queue for ${Math.ceil(waitMs / 1000)} s, attempt not spent`;
    } else if (quotaStopOf(ended, admitted.model) && this.capacity && (worktree || untouched)) {
      if (ended.outcome.error?.code === RunFailureCode.PROVIDER_QUOTA_EXHAUSTED) await this.capacity.quotaExhausted(admitted.model, undefined, ended.outcome.error.message).catch(() => undefined);
      const next = (await this.capacity.usable(admitted.candidates)).find((m) => m !== admitted.model);
      if (!next) return null;
      waitMs = 0;
      reason = `the quota of ${admitted.model} is exhausted; the run moves to fallback model ${next} (attempt not spent)`;
    }
    if (waitMs === undefined) return null;
    const requeued = await this.mutate(job, session, (s) => s.requeue(reason));
    if (!requeued) return DONE;
    this.logger.warn(`Session ${job.sessionId}: ${reason}`);
    return { waitMs };
  }

  private turnControl(job: SessionRunJob, session: Session, admitted: Admitted): TurnControl {
    const s = session.snapshot();
    const { turnMaxSteps, doomLoopRepeats, noProgressSeconds } = this.config.capacity;
    const scopes = {
      sessionId: s.id,
      attempt: s.attempt,
      sessionBudget: s.budget,
      planId: s.origin.kind === 'plan' ? s.origin.planId : null,
      agentId: s.agentId,
      keyId: s.createdByKeyId,
      agentName: s.assignment?.agentName ?? null,
      role: s.assignment?.role ?? null,
      model: admitted.model,
    };
    const limits = { maxSteps: s.assignment?.maxSteps ?? turnMaxSteps, doomLoopRepeats, noProgressMs: noProgressSeconds * 1000 };
    return new TurnControl(
      { scopes, model: admitted.model, permit: admitted.permit, limits, startedAt: s.startedAt ?? new Date() },
      {
        spending: this.spending,
        capacity: this.capacity,
        metrics: this.metrics,
        onBudget: (state, event) => this.publishBudget(job, state, event),
      },
      // Set when follow() starts: the control aborts the turn it follows.
      (reason) => this.abortTurn.get(job.sessionId)?.abort(reason),
    );
  }

  /** The AbortController of the turn each run follows now, for its control. */
  private readonly abortTurn = new Map<string, AbortController>();
  /** How each run following a turn now gives it up when this worker stops (handOverRuns). */
  private readonly handOffs = new Map<string, () => void>();
  /** Set once the grace of a planned stop is over: a run that reaches its turn from then on gives it up at once. */
  private handingOver = false;
  /** Leases of runs handed over: kept (not released) for the next worker, which takes them over. */
  private readonly handedOverPlaces = new WeakSet<Lease>();

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
   * The turn stopped with this worker (its managed server stops too): the session runs again as a
   * new attempt (a worktree session from what its branch holds), or ends CANCELLED when a cancel
   * was asked meanwhile.
   */
  private async requeueAfterShutdown(
    job: SessionRunJob,
    session: Session,
    ended: FollowedTurn,
    settled: SettledWorktree | { failure: RunFailure } | null,
  ): Promise<RunEnd> {
    const why = 'its worker stopped (a planned stop) and its OpenCode server stopped with it; the turn was aborted and the session runs again';
    const recorded = await this.mutate(job, session, (s) => {
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

  private publishBudget(job: SessionRunJob, state: 'warning' | 'exceeded', event: { scope: string; scopeId: string; limit: string; message: string }): void {
    if (state === 'warning') this.logger.warn(`Session ${job.sessionId}: ${event.message}`);
    if (!this.events) return;
    const data = { attempt: job.attempt, state, scope: event.scope, scopeId: event.scopeId, limit: event.limit, message: event.message };
    this.events.publish(budgetEvent(job.sessionId, data)).catch((err: Error) => this.logger.debug(`Could not publish a budget event of ${job.sessionId}: ${err.message}`));
  }

  /**
   * A turn lost with its OpenCode server (killed, restarted, replaced, gone with its worker) runs
   * again at once as a new attempt, on whichever server placement picks: a worktree session from
   * what its branch holds (the lost turn's work was committed there), a shared one only when the
   * lost turn ran no tool; and a turn that could not be opened (no prompt went out). Up to
   * FAILOVER_LAST_ATTEMPT; later it stays FAILED (retryable by hand).
   */
  private async failOver(job: SessionRunJob, failed: Session, what = 'failover after its OpenCode server was lost'): Promise<void> {
    if (!this.queue) return;
    const why = failed.snapshot().error?.message ?? 'the OpenCode server was lost';
    const requeued = await this.mutate(job, failed, (s) => s.retry(new Date(), `${what} (${why.slice(0, 200)})`), SessionStatus.FAILED);
    if (!requeued) return;
    this.logger.warn(`Session ${job.sessionId}: ${what}; running it again as attempt ${requeued.attempt}`);
    // Saved before enqueued: a crash in between leaves a QUEUED session the recovery sweep enqueues.
    await this.queue.enqueue({ sessionId: job.sessionId, attempt: requeued.attempt });
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

  /** QUEUED → RUNNING (in `slot` when it has one), or picks up a RUNNING session whose worker was lost. */
  private claim(job: SessionRunJob, slot?: string): Promise<{ session: Session; resume: boolean } | null> {
    const claim = () =>
      retryOnConflict(
        MAX_CONFLICT_RETRIES,
        async () => {
          const session = await this.sessions.findById(job.sessionId);
          if (!session || session.attempt !== job.attempt) return null; // deleted or superseded by a retry
          if (session.status === SessionStatus.RUNNING) {
            this.logger.warn(`Resuming session ${session.id} (attempt ${job.attempt}): its previous worker was lost or handed it over`);
            if (slot && session.worktree?.slot !== slot) {
              session.useSlot(slot);
              await this.sessions.update(session);
            }
            return { session, resume: true };
          }
          if (session.status !== SessionStatus.QUEUED) return null; // finished or cancelled meanwhile
          session.markRunning();
          if (slot) session.useSlot(slot);
          await this.sessions.update(session);
          return { session, resume: false };
        },
        () => new Error(`session ${job.sessionId}: too many concurrent changes while claiming it`),
      );
    return this.whileDatabaseAway(job, null, 'that it runs', claim);
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
      await this.mutate(job, session, (s) => s.fail(failure, null));
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
      await this.mutate(job, session, (s) => s.fail(failure, null));
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
      const failed = await this.mutate(job, session, (s) =>
        s.fail({ code: RunFailureCode.OPENCODE_UNAVAILABLE, message: `could not open a turn: ${errorMessage(err)}` }, null),
      );
      // No prompt went out: always safe to run again, on whichever server placement picks then.
      if (failed && failed.attempt < FAILOVER_LAST_ATTEMPT) await this.failOver(job, failed, 'failover after no OpenCode turn could be opened');
      return null;
    }
    const attached = await this.mutate(job, session, (s) => s.attachTurn(ref.opencodeSessionId, ref.messageId, ref.serverId ?? null));
    return attached ? { session: attached, ref, resume: false } : null;
  }

  /**
   * Runs the turn to its end, aborting it on a cancel request, at the session's deadline, or when
   * the workspace lock is lost; publishes its progress and decides its permission requests.
   */
  private async follow(
    job: SessionRunJob,
    session: Session,
    ref: CodingTurnRef,
    request: CodingTurnRequest,
    resume: boolean,
    lease: Lease,
    control: TurnControl,
  ): Promise<FollowedTurn> {
    const turn = new AbortController();
    this.abortTurn.set(job.sessionId, turn);
    // A planned stop: a turn that outlives this worker is left running for the next one, any other is aborted.
    const detach = new AbortController();
    const handOff = () => (this.turns.outlivesWorker(ref) ? detach.abort() : turn.abort('shutdown' satisfies TurnAbortReason));
    this.handOffs.set(job.sessionId, handOff);
    if (this.handingOver) handOff();
    control.begin();
    if (control.stop) turn.abort(control.stop.reason);
    const unwatch = this.watcher.watchRun(job.sessionId, turn);
    const keepLease = this.abortOnLeaseLoss(job, lease, turn);
    const clearDeadline = abortAtDeadline(session, turn);
    if (session.cancelRequested) turn.abort('cancel' satisfies TurnAbortReason);
    const permissions = this.approvals
      ? new PermissionDecider(this.approvals, this.events, { sessionId: job.sessionId, attempt: job.attempt }, this.config.approvalTimeoutSeconds)
      : undefined;
    let toolsRan = false;
    try {
      // Progress is published as it comes, before runTurn resolves, and so before the final
      // transition, which this process publishes after it commits it: a stream client gets the
      // last progress of the run before the run's final status.
      const result = await this.turns.runTurn(ref, request, {
        signal: turn.signal,
        detach: detach.signal,
        resume,
        onProgress: (progress) => {
          if (progress.kind === 'tool' || progress.kind === 'files') toolsRan = true;
          this.publishProgress(job, progress);
          control.onProgress(progress);
        },
        onPermission: permissions
          ? async (request, signal) => {
              control.asked();
              try {
                return await permissions.decide(request, signal);
              } finally {
                control.answered();
              }
            }
          : undefined,
      });
      if (result.status !== 'detached') await permissions?.finish(APPROVALS_SETTLE_MS);
      const abortReason = turn.signal.aborted ? (turn.signal.reason as TurnAbortReason) : undefined;
      return {
        outcome: permissions ? permissions.explain(result) : result,
        abortReason,
        lockLostReason: abortReason === 'lock-lost' ? lockLostReasonOf(lease) : undefined,
        // A resumed turn's earlier part was not seen here: it may have run tools.
        toolsRan: toolsRan || resume,
        control,
      };
    } finally {
      if (this.abortTurn.get(job.sessionId) === turn) this.abortTurn.delete(job.sessionId);
      if (this.handOffs.get(job.sessionId) === handOff) this.handOffs.delete(job.sessionId);
      clearDeadline();
      keepLease();
      unwatch();
    }
  }

  /**
   * Lost workspace lock: stop OpenCode writing before another session may start there. Taken
   * over by a newer run of this same session (this worker was presumed dead), the turn is the
   * other run's now: keep following it without aborting it; the first to record the outcome wins.
   * Returns the function that stops listening.
   */
  private abortOnLeaseLoss(job: SessionRunJob, lease: Lease, turn: AbortController): () => void {
    const onLeaseLost = () => {
      if (LockError.isTakeover(lease.signal.reason)) {
        this.logger.warn(`Session ${job.sessionId}: another worker resumed this run; leaving the turn to it`);
        return;
      }
      turn.abort('lock-lost' satisfies TurnAbortReason);
    };
    if (lease.signal.aborted) onLeaseLost();
    lease.signal.addEventListener('abort', onLeaseLost, { once: true });
    return () => lease.signal.removeEventListener('abort', onLeaseLost);
  }

  /** Best effort: a lost progress event costs a stream client some detail, never the run. */
  private publishProgress(job: SessionRunJob, progress: CodingTurnProgress): void {
    if (!this.events) return;
    this.events
      .publish(progressEvent(job.sessionId, job.attempt, progress))
      .catch((err: Error) => this.logger.debug(`Could not publish the progress of session ${job.sessionId}: ${err.message}`));
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

  /**
   * Applies a change to this attempt while it is RUNNING (or `expected`) and writes it
   * version-checked. The first try uses the copy in hand; after a concurrent edit it reloads and
   * reapplies. While the database is out of reach it waits (see whileDatabaseAway), and then
   * reloads too: the copy in hand may hold the change already. Returns the written session, or
   * null when the attempt is no longer as expected.
   */
  private mutate(
    job: SessionRunJob,
    inHand: Session | null,
    change: (s: Session) => void,
    expected = SessionStatus.RUNNING,
  ): Promise<Session | null> {
    const write = (copy: Session | null) =>
      retryOnConflict(
        MAX_CONFLICT_RETRIES,
        async (attempt) => {
          const session = (attempt === 1 ? copy : null) ?? (await this.sessions.findById(job.sessionId, { includeDeleted: true }));
          if (!session || session.attempt !== job.attempt || session.status !== expected) return null;
          change(session);
          await this.sessions.update(session);
          return session;
        },
        () => new Error(`session ${job.sessionId}: too many concurrent changes while recording its run`),
      );
    return this.whileDatabaseAway(job, inHand, 'the state of its run', (tryNumber) => write(tryNumber === 1 ? inHand : null));
  }

  /**
   * Runs `write`, and again while it fails because the database is out of reach, for up to the
   * session's timeout (DatabaseWait), so that an outage does not spend the job's few retries nor
   * lose the outcome of a turn OpenCode finished. Without a DatabaseWait: once.
   */
  private whileDatabaseAway<T>(job: SessionRunJob, session: Session | null, what: string, write: (tryNumber: number) => Promise<T>): Promise<T> {
    if (!this.databaseWait) return write(1);
    const timeoutSeconds = session?.snapshot().timeoutSeconds ?? this.config.sessionTimeoutSeconds;
    return this.databaseWait.write(job.sessionId, what, timeoutSeconds, write);
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

/** Aborts the turn at the session's deadline (counted from its start); returns the function that clears the timer. */
function abortAtDeadline(session: Session, turn: AbortController): () => void {
  const { startedAt, timeoutSeconds } = session.snapshot();
  const deadline = (startedAt ?? new Date()).getTime() + timeoutSeconds * 1000;
  const timer = setTimeout(() => turn.abort('timeout' satisfies TurnAbortReason), Math.max(0, deadline - Date.now()));
  return () => clearTimeout(timer);
}

/** A completed turn whose work the orchestrator could not keep ends failed; any other ending stays as it was. */
function failedBy(outcome: CodingTurnOutcome, failure: RunFailure): CodingTurnOutcome {
  return outcome.status === 'completed' ? { ...outcome, status: 'failed', error: failure } : outcome;
}

function lockLostReasonOf(lease: Lease): string {
  return lease.signal.reason instanceof Error ? lease.signal.reason.message : `the lease on ${lease.resource} was lost`;
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

/** Whether a run that just ended FAILED lost its turn with its server and may run again on its own. */
function failsOver(session: Session, ended: FollowedTurn, worktree: boolean): boolean {
  const s = session.snapshot();
  if (s.status !== SessionStatus.FAILED || ended.outcome.status !== 'lost' || ended.abortReason) return false;
  if (!s.error || !SERVER_LOSS_CODES.includes(s.error.code) || s.attempt >= FAILOVER_LAST_ATTEMPT) return false;
  return worktree || !ended.toolsRan;
}

/** What a stop of the turn's control records when the turn ends with it. */
function stopFailure(stop: TurnStop): RunFailure {
  return stop.reason === 'throttled' ? { code: PROVIDER_RATE_LIMITED, message: stop.message } : stop.failure;
}

/** The failure of a turn its model's exhausted quota ended (stopped by the control, or failed so by OpenCode). */
function quotaStopOf(ended: FollowedTurn, model: string): RunFailure | undefined {
  const stop = ended.control.stop;
  if (stop?.reason === 'quota') return stop.failure;
  const error = ended.outcome.error;
  if (ended.outcome.status !== 'completed' && error?.code === RunFailureCode.PROVIDER_QUOTA_EXHAUSTED) return quotaFailure(model, error.message, undefined);
  return undefined;
}

import { randomUUID } from 'node:crypto';
import { Budget, budgetProblem, normaliseBudget, RunFailure, RunResult, TokenUsage } from '@app/shared';
import { SessionAgentAssignment } from './session-agent';
import { CommittedSessionState, SessionTransitioned } from './session-events';
import { API_ORIGIN, SessionOrigin } from './session-origin';
import { canTransition, SessionStatus } from './session-status';
import { RunFailureCode, SessionError, SessionErrorCode } from './session.errors';
import { STATED_STOPS, TurnCircumstances, TurnOutcome } from './turn-outcome';
import { SessionIsolation, SessionMerge, SessionWorktree, WorktreeChanges } from './session-worktree';

/** How the history names a session queued again because its worker stopped on purpose (a deploy), not lost. */
export const WORKER_SHUTDOWN = 'WORKER_SHUTDOWN';

/** One recorded change of status; appended to session_events, never changed. */
export interface SessionTransition {
  from: SessionStatus | null;
  to: SessionStatus;
  reason: string;
  attempt: number;
  at: Date;
}

/**
 * A transition recorded and not yet stored. `after` is the state it left the session in, kept once
 * another transition follows it before the write (one write may hold several: a failover stores
 * RUNNING → FAILED → QUEUED at once); the last one's state is the one the write commits.
 */
interface PendingTransition extends SessionTransition {
  after?: Omit<CommittedSessionState, 'version'>;
}

export interface SessionProps {
  id: string;
  title: string;
  prompt: string;
  workspace: string;
  /** The OpenCode agent (build, plan, ...) the turn runs with; not the orchestrator agent (agentId). */
  opencodeAgent: string;
  model: string | null;
  /** The model the current attempt's turn runs (ran) on: `model` (or the server's default), or a fallback model; null before the run. */
  modelUsed: string | null;
  /** Limits on what one attempt may spend (tokens, cost, running minutes); null: none of its own. */
  budget: Budget | null;
  /** The orchestrator agent that runs it (null: a plain OpenCode session). */
  agentId: string | null;
  assignment: SessionAgentAssignment | null;
  timeoutSeconds: number;
  metadata: Record<string, unknown>;
  origin: SessionOrigin;
  /** The API key that made it (BOOTSTRAP_KEY_ID for API_KEY; null with authentication off). */
  createdByKeyId: string | null;
  isolation: SessionIsolation;
  /** Its branch and worktree slot; null for a shared workspace. */
  worktree: SessionWorktree | null;
  status: SessionStatus;
  attempt: number;
  version: number;
  opencodeSessionId: string | null;
  opencodeMessageId: string | null;
  /** The OpenCode server the turn runs on (its fleet id), for the rest of the attempt; null before the turn or on an older row. */
  opencodeServerId: string | null;
  result: RunResult | null;
  usage: TokenUsage | null;
  error: RunFailure | null;
  cancelRequestedAt: Date | null;
  queuedAt: Date | null;
  /**
   * When this attempt first found where it works busy (its workspace, or every worktree slot), while
   * QUEUED; its wait for a place times out `timeoutSeconds` after it. Null once it runs, or before any wait.
   */
  waitingSince: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** When retention emptied the output text of this finished attempt (result.summary); null: not pruned (README, Retention). */
  prunedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface CreateSessionInput {
  /** Default: a new random id (given when the branch name, made from it, is chosen first). */
  id?: string;
  title: string;
  prompt: string;
  workspace: string;
  opencodeAgent: string;
  model?: string | null;
  budget?: Budget | null;
  assignment?: SessionAgentAssignment | null;
  timeoutSeconds: number;
  metadata?: Record<string, unknown>;
  /** Default: made through the API. */
  origin?: SessionOrigin;
  createdByKeyId?: string | null;
  /** Given: the session runs in its own worktree on this branch. Absent: it shares its workspace. */
  worktree?: SessionWorktree | null;
}

/**
 * The session aggregate. Its status changes only through the methods below, each of
 * which checks the one transition table and records the transition.
 */
export class Session {
  private pending: PendingTransition[] = [];

  private constructor(private props: SessionProps) {}

  static create(input: CreateSessionInput, now = new Date()): Session {
    const session = new Session({
      id: input.id ?? randomUUID(),
      title: input.title,
      prompt: input.prompt,
      workspace: input.workspace,
      opencodeAgent: input.opencodeAgent,
      model: input.model ?? null,
      modelUsed: null,
      budget: validBudget(input.budget ?? null),
      agentId: input.assignment?.agentId ?? null,
      assignment: input.assignment ?? null,
      timeoutSeconds: input.timeoutSeconds,
      metadata: input.metadata ?? {},
      origin: input.origin ?? API_ORIGIN,
      createdByKeyId: input.createdByKeyId ?? null,
      isolation: input.worktree ? 'worktree' : 'shared',
      worktree: input.worktree ? { ...input.worktree } : null,
      status: SessionStatus.PENDING,
      attempt: 1,
      version: 1,
      opencodeSessionId: null,
      opencodeMessageId: null,
      opencodeServerId: null,
      result: null,
      usage: null,
      error: null,
      cancelRequestedAt: null,
      queuedAt: null,
      waitingSince: null,
      startedAt: null,
      finishedAt: null,
      prunedAt: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    session.pending.push({ from: null, to: SessionStatus.PENDING, reason: 'created', attempt: 1, at: now });
    return session;
  }

  /** Rebuilds a session from storage; records nothing. */
  static restore(props: SessionProps): Session {
    return new Session({ ...props });
  }

  get id(): string {
    return this.props.id;
  }
  get status(): SessionStatus {
    return this.props.status;
  }
  get attempt(): number {
    return this.props.attempt;
  }
  get version(): number {
    return this.props.version;
  }
  get workspace(): string {
    return this.props.workspace;
  }
  get isDeleted(): boolean {
    return this.props.deletedAt !== null;
  }
  get cancelRequested(): boolean {
    return this.props.cancelRequestedAt !== null;
  }
  get worktree(): Readonly<SessionWorktree> | null {
    return this.props.worktree;
  }

  /** A read-only copy of the state, for mappers and responses. */
  snapshot(): Readonly<SessionProps> {
    return { ...this.props };
  }

  /** Called by the repository after a successful version-checked write. */
  persisted(version: number): void {
    this.props.version = version;
  }

  /**
   * The transitions recorded since the last pull, as events carrying the state each left the
   * session in (the last one: the state it is in now) at `version`: the repository pulls them in
   * the write that stores them (that write commits `version`), appends them to the history, and
   * publishes them once it is committed. Several transitions of one write share its version.
   */
  pullEvents(version = this.props.version): SessionTransitioned[] {
    const transitions = this.pending;
    this.pending = [];
    if (transitions.length === 0) return [];
    const now = this.stateNow();
    return transitions.map(({ after, ...t }) => ({ sessionId: this.props.id, ...t, origin: this.props.origin, session: { ...(after ?? now), version } }));
  }

  /** The state the transitions' events report, but for the version the write commits. */
  private stateNow(): Omit<CommittedSessionState, 'version'> {
    const p = this.props;
    return {
      title: p.title,
      status: p.status,
      attempt: p.attempt,
      agentId: p.agentId,
      agent: p.assignment ? { name: p.assignment.agentName, role: p.assignment.role } : null,
      model: p.model,
      modelUsed: p.modelUsed,
      opencodeSessionId: p.opencodeSessionId,
      result: p.result,
      usage: p.usage,
      error: p.error,
      cancelRequestedAt: p.cancelRequestedAt,
      queuedAt: p.queuedAt,
      startedAt: p.startedAt,
      finishedAt: p.finishedAt,
      updatedAt: p.updatedAt,
    };
  }

  /** Another transition starts in the same write: the last one keeps the state it left the session in. */
  private keepStateOfLastTransition(): void {
    const last = this.pending.at(-1);
    if (last && !last.after) last.after = this.stateNow();
  }

  /** PENDING → QUEUED. */
  queue(now = new Date()): void {
    this.transition(SessionStatus.QUEUED, 'start requested', now, [SessionStatus.PENDING]);
    this.props.queuedAt = now;
  }

  /** FAILED | TIMED_OUT | CANCELLED → QUEUED, as a new attempt with a clean slate; `why` names who retried (the history's reason). */
  retry(now = new Date(), why = 'retry'): void {
    this.assertCan(SessionStatus.QUEUED, [SessionStatus.FAILED, SessionStatus.TIMED_OUT, SessionStatus.CANCELLED]);
    if (this.props.worktree) this.activeWorktree('retry on its branch');
    this.startNewAttempt(now, why);
  }

  /**
   * RUNNING → QUEUED as a new attempt, with a clean slate: its worker stopped on purpose (a
   * deploy) and the turn could not outlive it (its OpenCode server stopped with the worker), so
   * the turn was aborted and the session runs again. Not a failure: the history's reason starts
   * with WORKER_SHUTDOWN. A worktree session's next attempt starts from what its branch holds.
   */
  requeueAfterShutdown(why: string, now = new Date()): void {
    this.assertCan(SessionStatus.QUEUED, [SessionStatus.RUNNING]);
    if (this.props.worktree) this.props.worktree = { ...this.props.worktree, slot: null };
    this.startNewAttempt(now, `${WORKER_SHUTDOWN}: ${why}`);
  }

  private startNewAttempt(now: Date, why: string): void {
    this.keepStateOfLastTransition();
    this.props.attempt += 1;
    Object.assign(this.props, {
      opencodeSessionId: null,
      opencodeMessageId: null,
      opencodeServerId: null,
      modelUsed: null,
      result: null,
      prunedAt: null,
      usage: null,
      error: null,
      cancelRequestedAt: null,
      startedAt: null,
      finishedAt: null,
      queuedAt: now,
      waitingSince: null,
    });
    this.transition(SessionStatus.QUEUED, `${why} (attempt ${this.props.attempt})`, now);
  }

  /** QUEUED → RUNNING, when a worker picks the session up. */
  markRunning(now = new Date()): void {
    this.transition(SessionStatus.RUNNING, 'picked up by a worker', now);
    this.props.startedAt = now;
    this.props.waitingSince = null;
  }

  /**
   * QUEUED, found where it works busy: its wait for a place starts now, unless it started earlier
   * (the run gave its worker back between tries, so the start is kept here, not in a process).
   */
  waitForPlace(now = new Date()): void {
    this.assertStatus(SessionStatus.QUEUED, 'wait for its workspace');
    if (this.props.waitingSince) return;
    this.props.waitingSince = now;
    this.props.updatedAt = now;
  }

  /**
   * RUNNING → QUEUED, the same attempt: the run gives its worker back and waits for provider
   * capacity (rate limited before its first step, or moved to a fallback model). The turn it
   * opened is forgotten (it was aborted); nothing is spent of its attempts; queuedAt stays, so
   * its wait still counts from when it was first queued.
   */
  requeue(reason: string, now = new Date()): void {
    this.transition(SessionStatus.QUEUED, reason, now, [SessionStatus.RUNNING]);
    Object.assign(this.props, { opencodeSessionId: null, opencodeMessageId: null, opencodeServerId: null, startedAt: null, cancelRequestedAt: null });
    if (this.props.worktree) this.props.worktree = { ...this.props.worktree, slot: null };
  }

  /** The model this attempt's turn runs on (the primary or a fallback), chosen before the turn opens. */
  useModel(model: string, now = new Date()): void {
    this.props.modelUsed = model;
    this.props.updatedAt = now;
  }

  /** Records which OpenCode turn runs this attempt, before the prompt is sent. */
  attachTurn(opencodeSessionId: string, opencodeMessageId: string, opencodeServerId: string | null = null, now = new Date()): void {
    this.assertStatus(SessionStatus.RUNNING, 'attach an OpenCode turn');
    this.props.opencodeSessionId = opencodeSessionId;
    this.props.opencodeMessageId = opencodeMessageId;
    this.props.opencodeServerId = opencodeServerId;
    this.props.updatedAt = now;
  }

  complete(result: RunResult, usage: TokenUsage, now = new Date()): void {
    this.transition(SessionStatus.COMPLETED, 'turn completed', now);
    this.finish(now, { result, usage, error: null });
  }

  fail(error: RunFailure, usage: TokenUsage | null, now = new Date(), partial?: RunResult): void {
    this.transition(SessionStatus.FAILED, `${error.code}: ${error.message}`, now);
    this.finish(now, { result: partial ?? null, usage, error });
  }

  timeOut(usage: TokenUsage | null, now = new Date(), partial?: RunResult): void {
    const message = `no result within ${this.props.timeoutSeconds}s; the OpenCode turn was aborted`;
    this.transition(SessionStatus.TIMED_OUT, message, now, [SessionStatus.RUNNING]);
    this.finish(now, { result: partial ?? null, usage, error: { code: RunFailureCode.TIMED_OUT, message } });
  }

  /** QUEUED → TIMED_OUT: it waited its whole timeout (from waitingSince) for a workspace that other sessions held. */
  timeOutWaiting(waitedFor: string, now = new Date()): void {
    const message = `${waitedFor} stayed locked by other sessions for ${this.props.timeoutSeconds}s; the session never ran`;
    this.transition(SessionStatus.TIMED_OUT, message, now, [SessionStatus.QUEUED]);
    this.finish(now, { result: null, usage: null, error: { code: RunFailureCode.WORKSPACE_BUSY, message } });
  }

  /** QUEUED → TIMED_OUT: its provider had no capacity for it (limits, rate limits) for its whole timeout. */
  timeOutThrottled(model: string, why: string, now = new Date()): void {
    const message = `waited ${this.props.timeoutSeconds}s for capacity on ${model} (${why}); the session never ran`;
    this.transition(SessionStatus.TIMED_OUT, message, now, [SessionStatus.QUEUED]);
    this.finish(now, { result: null, usage: null, error: { code: RunFailureCode.TIMED_OUT, message } });
  }

  /** QUEUED → FAILED: refused before it ran (e.g. the quota of every model it may use is exhausted). */
  failUnrun(error: RunFailure, now = new Date()): void {
    this.transition(SessionStatus.FAILED, `${error.code}: ${error.message}`, now, [SessionStatus.QUEUED]);
    this.finish(now, { result: null, usage: null, error });
  }

  /** PENDING | QUEUED | RUNNING → CANCELLED. */
  cancel(reason: string, usage: TokenUsage | null = null, now = new Date(), partial?: RunResult): void {
    this.transition(SessionStatus.CANCELLED, reason, now);
    this.finish(now, { result: partial ?? null, usage, error: { code: RunFailureCode.CANCELLED, message: reason } });
  }

  /** A RUNNING session is cancelled by its worker; this asks it to. Idempotent. */
  requestCancel(now = new Date()): void {
    this.assertStatus(SessionStatus.RUNNING, 'request cancellation');
    this.props.cancelRequestedAt ??= now;
    this.props.updatedAt = now;
  }

  /**
   * RUNNING → the final status the turn's end means. A completed turn completes the session
   * whatever else happened. A turn the worker stopped ends as why it stopped it: a lost workspace
   * lock fails it, a timeout times it out, anything else is the user's cancel. A resumed run whose
   * turn the server lost fails with WORKER_LOST; any other turn failure is recorded as reported.
   * What the turn produced so far is kept.
   */
  recordTurnOutcome(outcome: TurnOutcome, circumstances: TurnCircumstances, now = new Date()): void {
    const { abortReason, resumed, lockLostReason } = circumstances;
    this.assertStatus(SessionStatus.RUNNING, 'record the outcome of a turn');
    if (outcome.status === 'detached') {
      throw new SessionError(SessionErrorCode.INVALID_TRANSITION, `Cannot record the outcome of session ${this.id}'s turn: it was handed to another worker and has not ended`, {
        id: this.id,
        status: this.props.status,
      });
    }
    const { usage } = outcome;
    const partial = { summary: outcome.summary, filesChanged: outcome.filesChanged };
    if (outcome.status === 'completed') return this.complete(partial, usage, now);
    if (abortReason === 'lock-lost') {
      const why = lockLostReason ?? 'the workspace lock was lost';
      const message = `${why}; the OpenCode turn was stopped so that no other session writes to the workspace at the same time; retry the session`;
      return this.fail({ code: RunFailureCode.WORKSPACE_LOCK_LOST, message }, usage, now, partial);
    }
    if (abortReason === 'timeout') return this.timeOut(usage, now, partial);
    if (abortReason && STATED_STOPS.includes(abortReason)) {
      const stop = circumstances.stop ?? { code: 'OPENCODE_ERROR', message: `the turn was stopped (${abortReason})` };
      return this.fail(stop, usage, now, partial);
    }
    if (outcome.status === 'aborted' || abortReason) return this.cancel('cancelled by user', usage, now, partial);
    const error = outcome.error ?? { code: 'OPENCODE_ERROR', message: 'the turn failed without an error message' };
    if (outcome.status === 'lost' && resumed) {
      const message = `the worker running this session was lost and the OpenCode turn could not be resumed: ${error.message}`;
      return this.fail({ code: RunFailureCode.WORKER_LOST, message }, usage, now, partial);
    }
    this.fail(error, usage, now, partial);
  }

  /** The worktree slot this run works in (its lock is held by the run). */
  useSlot(slot: string, now = new Date()): void {
    this.assertStatus(SessionStatus.RUNNING, 'take a worktree slot');
    const worktree = this.activeWorktree('take a worktree slot');
    this.props.worktree = { ...worktree, slot };
    this.props.updatedAt = now;
  }

  /** What the branch holds after a run committed its work. */
  recordChanges(changes: WorktreeChanges, now = new Date()): void {
    const worktree = this.activeWorktree('record changes');
    this.props.worktree = { ...worktree, ...changes, files: [...changes.files], slot: null };
    this.props.updatedAt = now;
  }

  /** Throws unless the branch can be merged now: it exists and no run may still commit to it. */
  assertMergeable(): void {
    this.assertIdle('merge its branch');
    this.activeWorktree('merge its branch');
  }

  /** The branch was merged (and deleted): the work lives on in `merge.target`. Not while a run may still commit. */
  recordMerged(merge: SessionMerge, now = new Date()): void {
    this.assertMergeable();
    const worktree = this.props.worktree!;
    this.props.worktree = { ...worktree, state: 'MERGED', merge, slot: null };
    this.props.updatedAt = now;
  }

  /** The branch was deleted without merging: by the user (DISCARDED) or after the retention time (EXPIRED). */
  dropWorktree(state: 'DISCARDED' | 'EXPIRED', now = new Date()): void {
    this.assertIdle(state === 'DISCARDED' ? 'discard its branch' : 'expire its branch');
    const worktree = this.activeWorktree('drop its branch');
    this.props.worktree = { ...worktree, state, slot: null };
    this.props.updatedAt = now;
  }

  /** Title, metadata and budget are the only fields a user may change (a budget change applies to the next run). */
  edit(changes: { title?: string; metadata?: Record<string, unknown>; budget?: Budget | null }, now = new Date()): void {
    if (changes.budget !== undefined) this.props.budget = validBudget(changes.budget);
    if (changes.title !== undefined) this.props.title = changes.title;
    if (changes.metadata !== undefined) this.props.metadata = changes.metadata;
    this.props.updatedAt = now;
  }

  softDelete(now = new Date()): void {
    if (this.props.status === SessionStatus.RUNNING) {
      throw new SessionError(
        SessionErrorCode.SESSION_RUNNING,
        `Session ${this.id} is RUNNING; cancel it before deleting it`,
        { id: this.id, status: this.status },
      );
    }
    this.props.deletedAt = now;
    this.props.updatedAt = now;
  }

  private activeWorktree(action: string): SessionWorktree {
    const worktree = this.props.worktree;
    if (!worktree) {
      throw new SessionError(SessionErrorCode.NO_WORKTREE, `Session ${this.id} shares its workspace (isolation "shared"): it has no branch to ${action.replace(/ its branch$/, '')}`, { id: this.id });
    }
    if (worktree.state !== 'ACTIVE') {
      throw new SessionError(SessionErrorCode.WORKTREE_GONE, `Cannot ${action}: the branch ${worktree.branch} of session ${this.id} is ${worktree.state}`, {
        id: this.id,
        state: worktree.state,
        branch: worktree.branch,
      });
    }
    return worktree;
  }

  /** Merging or dropping a branch a run may still commit to would lose that run's work. */
  private assertIdle(action: string): void {
    const { status } = this.props;
    if (status === SessionStatus.QUEUED || status === SessionStatus.RUNNING) {
      throw new SessionError(SessionErrorCode.SESSION_RUNNING, `Cannot ${action}: session ${this.id} is ${status}; wait for it to end or cancel it`, {
        id: this.id,
        status,
      });
    }
  }

  private finish(now: Date, outcome: Pick<SessionProps, 'result' | 'usage' | 'error'>): void {
    Object.assign(this.props, outcome, { finishedAt: now });
  }

  private transition(to: SessionStatus, reason: string, now: Date, onlyFrom?: SessionStatus[]): void {
    this.assertCan(to, onlyFrom);
    this.keepStateOfLastTransition();
    const from = this.props.status;
    this.props.status = to;
    this.props.updatedAt = now;
    this.pending.push({ from, to, reason, attempt: this.props.attempt, at: now });
  }

  private assertCan(to: SessionStatus, onlyFrom?: SessionStatus[]): void {
    const from = this.props.status;
    if (!canTransition(from, to) || (onlyFrom && !onlyFrom.includes(from))) {
      throw new SessionError(
        SessionErrorCode.INVALID_TRANSITION,
        `Session ${this.id} cannot go from ${from} to ${to}`,
        { id: this.id, from, to },
      );
    }
  }

  private assertStatus(expected: SessionStatus, action: string): void {
    if (this.props.status !== expected) {
      throw new SessionError(
        SessionErrorCode.INVALID_TRANSITION,
        `Cannot ${action}: session ${this.id} is ${this.props.status}, not ${expected}`,
        { id: this.id, status: this.props.status },
      );
    }
  }
}

/** A budget as given, checked and without empty limits; throws BUDGET_INVALID naming the field. */
function validBudget(budget: Budget | null): Budget | null {
  const problem = budgetProblem(budget);
  if (problem) throw new SessionError(SessionErrorCode.BUDGET_INVALID, `${problem.field} ${problem.message}`, { field: problem.field });
  return normaliseBudget(budget);
}

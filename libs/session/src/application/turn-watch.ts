import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LockError } from '@app/locking';
import { RunFailure } from '@app/shared';
import { Session } from '../domain/session';
import { RunFailureCode } from '../domain/session.errors';
import type { TurnAbortReason } from '../domain/turn-outcome';
import { PermissionDecider } from './permission-decider';
import { ApprovalGatePort } from './ports/approval-gate.port';
import { CodingTurnProgress, CodingTurnRef, CodingTurnRequest, CodingTurnsPort } from './ports/coding-turns.port';
import { ProviderCapacityPort } from './ports/provider-capacity.port';
import { RunControlMetricsPort } from './ports/run-control-metrics.port';
import { RunSpendingPort } from './ports/run-spending.port';
import { budgetEvent, progressEvent, SessionEventsPort } from './ports/session-events.port';
import { SessionRunJob } from './ports/session-queue.port';
import { RunWatcher } from './run-watcher';
import type { Admitted, FollowedTurn } from './run-types';
import { quotaFailure, TurnControl, TurnStop } from './turn-control';

/** How a turn ends when the provider gave up on rate limits (OpenCode's own retries spent). */
export const PROVIDER_RATE_LIMITED = 'PROVIDER_RATE_LIMITED';
/** After the turn, how long its approval decisions may take to be recorded and announced. */
const APPROVALS_SETTLE_MS = 5_000;

/** What the follower needs of the ports SessionExecutionService holds (each optional as there). */
export interface TurnWatchPorts {
  turns: CodingTurnsPort;
  watcher: RunWatcher;
  config: AppConfig;
  events: SessionEventsPort | null;
  /** Without it a permission request is refused at once (nothing waits on a person nobody asked). */
  approvals: ApprovalGatePort | null;
  spending: RunSpendingPort | null;
  capacity: ProviderCapacityPort | null;
  metrics: RunControlMetricsPort | null;
  /**
   * Registers how a followed turn is given up on a planned stop of this worker (RunHandover);
   * returns the function that unregisters it.
   */
  onShutdown: (sessionId: string, handOff: () => void) => () => void;
}

/**
 * Follows a run's OpenCode turn to its end: aborts it on a cancel request, at the session's
 * deadline, when the workspace lock is lost or when its control (budgets, runaway, quota) stops it;
 * publishes its progress; decides its permission requests; gives it up on a planned stop.
 */
export class TurnWatch {
  /** The AbortController of the turn each run follows now, for its control. */
  private readonly abortTurn = new Map<string, AbortController>();

  constructor(
    private readonly ports: TurnWatchPorts,
    private readonly logger: Logger,
  ) {}

  /** The control of the run's turn: its budgets, runaway guard and provider limits. */
  control(job: SessionRunJob, session: Session, admitted: Admitted): TurnControl {
    const s = session.snapshot();
    const { turnMaxSteps, doomLoopRepeats, noProgressSeconds } = this.ports.config.capacity;
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
        spending: this.ports.spending,
        capacity: this.ports.capacity,
        metrics: this.ports.metrics,
        onBudget: (state, event) => this.publishBudget(job, state, event),
      },
      // Set when follow() starts: the control aborts the turn it follows.
      (reason) => this.abortTurn.get(job.sessionId)?.abort(reason),
    );
  }

  /** Runs the turn to its end (see the class). */
  async follow(
    job: SessionRunJob,
    session: Session,
    ref: CodingTurnRef,
    request: CodingTurnRequest,
    resume: boolean,
    lease: Lease,
    control: TurnControl,
  ): Promise<FollowedTurn> {
    const { turns, watcher, approvals, events, config } = this.ports;
    const turn = new AbortController();
    this.abortTurn.set(job.sessionId, turn);
    // A planned stop: a turn that outlives this worker is left running for the next one, any other is aborted.
    const detach = new AbortController();
    const forgetHandOff = this.ports.onShutdown(job.sessionId, () => (turns.outlivesWorker(ref) ? detach.abort() : turn.abort('shutdown' satisfies TurnAbortReason)));
    control.begin();
    if (control.stop) turn.abort(control.stop.reason);
    const unwatch = watcher.watchRun(job.sessionId, turn);
    const keepLease = this.abortOnLeaseLoss(job, lease, turn);
    const clearDeadline = abortAtDeadline(session, turn);
    if (session.cancelRequested) turn.abort('cancel' satisfies TurnAbortReason);
    const permissions = approvals ? new PermissionDecider(approvals, events, { sessionId: job.sessionId, attempt: job.attempt }, config.approvalTimeoutSeconds) : undefined;
    let toolsRan = false;
    try {
      // Progress is published as it comes, before runTurn resolves, and so before the final
      // transition, which this process publishes after it commits it: a stream client gets the
      // last progress of the run before the run's final status.
      const result = await turns.runTurn(ref, request, {
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
      forgetHandOff();
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
    const events = this.ports.events;
    if (!events) return;
    events
      .publish(progressEvent(job.sessionId, job.attempt, progress))
      .catch((err: Error) => this.logger.debug(`Could not publish the progress of session ${job.sessionId}: ${err.message}`));
  }

  private publishBudget(job: SessionRunJob, state: 'warning' | 'exceeded', event: { scope: string; scopeId: string; limit: string; message: string }): void {
    if (state === 'warning') this.logger.warn(`Session ${job.sessionId}: ${event.message}`);
    const events = this.ports.events;
    if (!events) return;
    const data = { attempt: job.attempt, state, scope: event.scope, scopeId: event.scopeId, limit: event.limit, message: event.message };
    events.publish(budgetEvent(job.sessionId, data)).catch((err: Error) => this.logger.debug(`Could not publish a budget event of ${job.sessionId}: ${err.message}`));
  }
}

/** What a stop of the turn's control records when the turn ends with it. */
export function stopFailure(stop: TurnStop): RunFailure {
  return stop.reason === 'throttled' ? { code: PROVIDER_RATE_LIMITED, message: stop.message } : stop.failure;
}

/** The failure of a turn its model's exhausted quota ended (stopped by the control, or failed so by OpenCode). */
export function quotaStopOf(ended: FollowedTurn, model: string): RunFailure | undefined {
  const stop = ended.control.stop;
  if (stop?.reason === 'quota') return stop.failure;
  const error = ended.outcome.error;
  if (ended.outcome.status !== 'completed' && error?.code === RunFailureCode.PROVIDER_QUOTA_EXHAUSTED) return quotaFailure(model, error.message, undefined);
  return undefined;
}

/** Aborts the turn at the session's deadline (counted from its start); returns the function that clears the timer. */
function abortAtDeadline(session: Session, turn: AbortController): () => void {
  const { startedAt, timeoutSeconds } = session.snapshot();
  const deadline = (startedAt ?? new Date()).getTime() + timeoutSeconds * 1000;
  const timer = setTimeout(() => turn.abort('timeout' satisfies TurnAbortReason), Math.max(0, deadline - Date.now()));
  return () => clearTimeout(timer);
}

function lockLostReasonOf(lease: Lease): string {
  return lease.signal.reason instanceof Error ? lease.signal.reason.message : `the lease on ${lease.resource} was lost`;
}

import { Logger } from '@nestjs/common';
import { RunFailure } from '@app/shared';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode } from '../domain/session.errors';
import { CodingTurnsPort } from './ports/coding-turns.port';
import { ProviderCapacityPort } from './ports/provider-capacity.port';
import { RunControlMetricsPort } from './ports/run-control-metrics.port';
import { SessionRunJob } from './ports/session-queue.port';
import { Admitted, DONE, FollowedTurn, RunEnd } from './run-types';
import { RunWrites } from './run-writes';
import { PROVIDER_RATE_LIMITED, quotaStopOf } from './turn-watch';
import { SettledWorktree } from './workplace/worktree-slots';

/**
 * Provider capacity for a run (PROVIDER_LIMITS): which model it runs on, the permit it holds there,
 * and, when its turn was throttled or its model's quota ran out, whether it waits again in the queue
 * on the same attempt. Without a ProviderCapacityPort no limit holds and no model is marked unavailable.
 */
export class CapacityAdmission {
  constructor(
    private readonly turns: CodingTurnsPort,
    private readonly capacity: ProviderCapacityPort | null,
    private readonly metrics: RunControlMetricsPort | null,
    private readonly writes: RunWrites,
    private readonly logger: Logger,
  ) {}

  /**
   * Provider capacity for the run: the first usable of its model (or the server's default) and its
   * agent's fallback models (usable: not out of quota nor cooling down after a 429; a saturated one
   * gives way to the next with room), admitted under PROVIDER_LIMITS. Not admitted: the run waits QUEUED
   * (returns the wait), times out after the session's timeout, or fails at once
   * (PROVIDER_QUOTA_EXHAUSTED) when every model it may use is out of quota. A resumed run keeps the
   * model its turn runs on, admitted or not (the turn is already on the provider).
   */
  async admit(job: SessionRunJob, session: Session): Promise<Admitted | RunEnd | null> {
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
        const recorded = await this.writes.mutate(job, session, (x) => x.useModel(model), SessionStatus.QUEUED);
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
      await this.writes.mutate(job, session, (x) => x.failUnrun(failure), SessionStatus.QUEUED);
      return null;
    }
    const waitedMs = Date.now() - (s.queuedAt ?? s.createdAt).getTime();
    if (waitedMs + admission.retryInMs > s.timeoutSeconds * 1000) {
      await this.writes.mutate(job, session, (x) => x.timeOutThrottled(model, admission.message), SessionStatus.QUEUED);
      return null;
    }
    return { waitMs: admission.retryInMs };
  }

  /** Gives back the capacity the run held; best effort (logged). */
  async release(job: SessionRunJob, admitted: Admitted): Promise<void> {
    if (!admitted.permit) return;
    await this.capacity?.release(admitted.permit).catch((err: Error) => this.logger.warn(`Session ${job.sessionId}: could not release its capacity on ${admitted.model}: ${err.message}`));
  }

  /**
   * A turn that goes back to the queue instead of ending, on the same attempt: rate-limited before
   * its first step (OpenCode's retries spent or the control stopped it), or its model's quota
   * exhausted while a fallback model is usable and nothing of the run would be lost (a worktree
   * session keeps its work on its branch; a shared one only when no tool ran).
   */
  async waitAgain(
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
    const requeued = await this.writes.mutate(job, session, (s) => s.requeue(reason));
    if (!requeued) return DONE;
    this.logger.warn(`Session ${job.sessionId}: ${reason}`);
    return { waitMs };
  }
}

import { Logger } from '@nestjs/common';
import { errorMessage, RunFailure, TokenUsage, tokensOf, ZERO_USAGE } from '@app/shared';
import { GuardedProgress, RunawayGuard, RunawayLimits } from '../domain/runaway-guard';
import { RunFailureCode } from '../domain/session.errors';
import type { TurnAbortReason } from '../domain/turn-outcome';
import type { CodingActivityProgress, CodingTurnProgress } from './ports/coding-turns.port';
import type { CapacityPermitRef, ProviderCapacityPort } from './ports/provider-capacity.port';
import type { RunControlMetricsPort } from './ports/run-control-metrics.port';
import type { RunBudgetWarning, RunSpendCheck, RunSpendingPort, RunSpendScopes, RunSpendTracker } from './ports/run-spending.port';

/** A Retry-After beyond this is an exhausted quota, not a rate limit. */
export const QUOTA_RETRY_AFTER_MS = 60 * 60_000;
/** How often the guard looks for silence, the running time is counted, and the capacity permit is renewed. */
const TICK_MS = 2_000;
const RENEW_EVERY_MS = 20_000;
const MINUTES_EVERY_MS = 15_000;

/** Why the worker stops a turn on its own, and what that records. */
export type TurnStop =
  | { reason: Extract<TurnAbortReason, 'budget' | 'runaway' | 'quota'>; failure: RunFailure; until?: Date }
  | { reason: 'throttled'; waitMs: number; message: string };

export interface TurnControlDeps {
  spending: RunSpendingPort | null;
  capacity: ProviderCapacityPort | null;
  metrics: RunControlMetricsPort | null;
  /** Budget warnings and breaches, for the session's event stream. */
  onBudget: (state: 'warning' | 'exceeded', event: RunBudgetWarning | NonNullable<RunSpendCheck['exceeded']>) => void;
}

export interface TurnControlOptions {
  scopes: RunSpendScopes;
  model: string;
  permit: CapacityPermitRef | null;
  limits: RunawayLimits;
  /** When the attempt started running (its running time counts toward maxMinutes). */
  startedAt: Date;
}

/**
 * Controls one turn while it runs: its budgets (judged from the usage OpenCode streams, step by
 * step, and from its running time), its runaway guards (step limit, doom loop, no progress), and
 * its provider's capacity (steps fed to the rpm/tpm windows, the permit kept alive, 429s and
 * exhausted quotas). It stops the turn through `abort` with its reason; `stop` says why.
 */
export class TurnControl {
  private readonly logger = new Logger(TurnControl.name);
  private readonly guard: RunawayGuard;
  private tracker: RunSpendTracker | null = null;
  private total: TokenUsage = { ...ZERO_USAGE };
  private steps = 0;
  private toolsRan = false;
  private spendBusy = false;
  private spendDirty = false;
  private spendIdle: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private lastRenew = Date.now();
  private lastMinutes = Date.now();
  private asking = 0;
  stop?: TurnStop;

  constructor(
    private readonly options: TurnControlOptions,
    private readonly deps: TurnControlDeps,
    private readonly abort: (reason: TurnAbortReason) => void,
  ) {
    this.guard = new RunawayGuard(options.limits);
  }

  /** Opens the run's budgets; a budget already used up returns the failure (the turn must not start). */
  async open(): Promise<RunFailure | null> {
    if (this.deps.spending) {
      try {
        this.tracker = await this.deps.spending.openRun(this.options.scopes);
      } catch (err) {
        // Spending is recorded best effort: a ledger that cannot be reached must not stop the fleet.
        this.logger.warn(`Session ${this.options.scopes.sessionId}: budgets could not be opened (${errorMessage(err)}); running without them`);
      }
      const breach = this.tracker?.opening.exceeded;
      if (breach) {
        this.deps.onBudget('exceeded', breach);
        return { code: RunFailureCode.BUDGET_EXCEEDED, message: `${breach.message}; the run did not start` };
      }
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref?.();
    return null;
  }

  /** The turn starts now: silence is counted from here (opening it may have waited for a server). */
  begin(): void {
    this.guard.observe({ kind: 'other' });
  }

  /** Whether the turn may have changed the workspace (a tool ran). */
  get ranTools(): boolean {
    return this.toolsRan;
  }

  /** The turn's usage as streamed (its own steps and its subagents'). */
  get streamedUsage(): TokenUsage {
    return this.total;
  }

  onProgress(progress: CodingTurnProgress): void {
    const now = Date.now();
    let guarded: GuardedProgress = { kind: 'other' };
    if (progress.kind === 'tool') {
      this.toolsRan = true;
      guarded = { kind: 'tool', callId: progress.detail.callId, tool: progress.detail.tool, signature: progress.detail.signature };
    } else if (progress.kind === 'files') {
      this.toolsRan = true;
    } else if (progress.kind === 'usage') {
      const firstStep = this.steps === 0;
      this.steps = progress.detail.steps;
      this.total = progress.detail.total;
      guarded = { kind: 'step', steps: progress.detail.steps };
      this.deps.capacity
        ?.recordStep(this.options.model, tokensOf(progress.detail.step), { firstStep })
        .catch((err) => this.logger.debug(`Could not count a step of ${this.options.model}: ${errorMessage(err)}`));
      this.requestSpendUpdate();
    } else if (progress.kind === 'activity' && progress.detail.state === 'retry') {
      void this.onProviderRetry(progress.detail);
    }
    const runaway = this.guard.observe(guarded, now);
    if (runaway) this.stopRunaway(runaway);
  }

  /** A person is asked (an approval): silence meanwhile is not a lack of progress. */
  asked(): void {
    if (this.asking++ === 0) this.guard.pause();
  }

  answered(): void {
    if (--this.asking === 0) this.guard.resume();
  }

  /**
   * The turn ended: records its final usage (the larger of what was streamed and what OpenCode's
   * messages say, field by field) and running time, and lets go of the permit.
   */
  async finish(outcomeUsage: TokenUsage): Promise<void> {
    clearInterval(this.timer);
    this.total = maxUsage(this.total, outcomeUsage);
    await this.spendIdle;
    if (this.tracker) {
      await this.tracker
        .update(this.total, this.runningMs())
        .then((check) => this.judge(check, false))
        .catch((err) => this.logger.warn(`Session ${this.options.scopes.sessionId}: its final spend could not be recorded: ${errorMessage(err)}`));
    }
  }

  private tick(): void {
    const now = Date.now();
    const silence = this.guard.check(now);
    if (silence) this.stopRunaway(silence);
    if (this.options.permit && now - this.lastRenew >= RENEW_EVERY_MS) {
      this.lastRenew = now;
      this.deps.capacity?.renew(this.options.permit).catch((err) => this.logger.warn(`Could not renew the capacity permit of ${this.options.model}: ${errorMessage(err)}`));
    }
    if (now - this.lastMinutes >= MINUTES_EVERY_MS) {
      this.lastMinutes = now;
      this.requestSpendUpdate();
    }
  }

  private stopRunaway(failure: RunFailure): void {
    if (this.stopWith({ reason: 'runaway', failure })) this.deps.metrics?.runawayStop(failure.code);
  }

  /**
   * The provider is being retried by OpenCode. A rate limit (or overload) cools the model down for
   * every session on it; a turn that has not finished a step yet gives its worker back and waits
   * in the queue (its attempt is not spent), a later one is left to OpenCode's own retry, which
   * honours Retry-After. An exhausted quota (or a Retry-After beyond an hour) stops the turn.
   */
  private async onProviderRetry(activity: CodingActivityProgress): Promise<void> {
    if (this.stop || !activity.trouble || activity.trouble === 'error') return;
    const retryAfterMs = activity.retryAt ? Math.max(0, activity.retryAt - Date.now()) : undefined;
    const capacity = this.deps.capacity;
    if (activity.trouble === 'quota' || (retryAfterMs ?? 0) > QUOTA_RETRY_AFTER_MS) {
      const until = activity.trouble === 'quota' ? undefined : new Date(activity.retryAt!);
      const marked = capacity ? await capacity.quotaExhausted(this.options.model, until, activity.message).catch(() => until) : until;
      this.stopWith({ reason: 'quota', failure: quotaFailure(this.options.model, activity.message, marked), until: marked });
      return;
    }
    const waitMs = capacity ? await capacity.rateLimited(this.options.model, retryAfterMs).catch(() => retryAfterMs ?? 1_000) : (retryAfterMs ?? 1_000);
    if (this.steps > 0 || this.toolsRan) return;
    this.stopWith({
      reason: 'throttled',
      waitMs,
      message: `the provider of ${this.options.model} rate-limited the turn before its first step (${activity.message ?? 'HTTP 429'}); back in the queue for ${Math.ceil(waitMs / 1000)} s, attempt not spent`,
    });
  }

  private stopWith(stop: TurnStop): boolean {
    if (this.stop) return false;
    this.stop = stop;
    this.abort(stop.reason);
    return true;
  }

  /** Spend updates run one at a time; one asked for meanwhile runs after with the latest usage. */
  private requestSpendUpdate(): void {
    if (!this.tracker) return;
    if (this.spendBusy) {
      this.spendDirty = true;
      return;
    }
    this.spendBusy = true;
    this.spendIdle = (async () => {
      try {
        do {
          this.spendDirty = false;
          this.judge(await this.tracker!.update(this.total, this.runningMs()), true);
        } while (this.spendDirty);
      } catch (err) {
        this.logger.warn(`Session ${this.options.scopes.sessionId}: spend not recorded this step: ${errorMessage(err)}`);
      } finally {
        this.spendBusy = false;
      }
    })();
  }

  private judge(check: RunSpendCheck, live: boolean): void {
    for (const warning of check.warnings) this.deps.onBudget('warning', warning);
    if (!check.exceeded || !live || this.stop) return;
    this.deps.onBudget('exceeded', check.exceeded);
    this.stopWith({ reason: 'budget', failure: { code: RunFailureCode.BUDGET_EXCEEDED, message: `${check.exceeded.message}; the turn was stopped` } });
  }

  private runningMs(): number {
    return Date.now() - this.options.startedAt.getTime();
  }
}

export function quotaFailure(model: string, why: string | undefined, until: Date | undefined): RunFailure {
  const when = until ? ` until ${until.toISOString()}` : '';
  return {
    code: RunFailureCode.PROVIDER_QUOTA_EXHAUSTED,
    message: `the quota of ${model} is exhausted${why ? ` (${why})` : ''}; the model is unavailable${when}`,
  };
}

function maxUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  const max = { ...a };
  for (const key of Object.keys(max) as Array<keyof TokenUsage>) max[key] = Math.max(a[key], b[key]);
  return max;
}

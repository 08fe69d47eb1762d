import { Inject, Injectable, Optional } from '@nestjs/common';
import { AppConfig, ProviderLimitRule, ruleMatches } from '@app/config';
import { backoffWithJitter, concurrencyRetryMs } from '../domain/backoff';
import type { Admission, CapacityPermit, CapacityRuleStatus, CapacityStatus, ModelMark, ThrottleReason } from '../domain/capacity';
import { CAPACITY_METRICS, CapacityMetricsPort } from './ports/capacity-metrics.port';
import { CAPACITY_STORE, CapacityStorePort, ConcurrencyBucket } from './ports/capacity-store.port';
import { USAGE_WINDOWS, UsageWindow, UsageWindowsPort, WindowMetric, WindowState } from './ports/usage-windows.port';

/** Concurrency holds expire this long after the last renew, so a dead worker's holds free themselves. */
export const PERMIT_TTL_MS = 60_000;
/** A session refused a slot counts as waiting (for the backoff and status) this long after it asked. */
const WAITER_TTL_MS = 15_000;
/** 429s of a model within this span escalate its cooldown: 1 s, 2 s, 4 s ... 60 s. */
const RATE_LIMIT_MEMORY_MS = 5 * 60_000;
const COOLDOWN_BASE_MS = 1_000;
const COOLDOWN_CAP_MS = 60_000;
/** Beyond this many distinct models the per-model rule cache starts over (model names come from requests). */
const RULE_CACHE_LIMIT = 1_000;

export interface CapacityOptions {
  /** Default PERMIT_TTL_MS; tests shorten it. */
  permitTtlMs?: number;
  random?: () => number;
  now?: () => number;
}
export const CAPACITY_OPTIONS = Symbol('CAPACITY_OPTIONS');

/** The rules that apply to one model, by limit. */
interface ModelRules {
  buckets: ConcurrencyBucket[];
  rpm: UsageWindow[];
  tpm: UsageWindow[];
}

type Refusal = Extract<Admission, { admitted: false }>;

/**
 * Provider capacity held across every worker: before a turn a session asks admit(); it holds its
 * concurrency slots (renewing them) until release(); its steps and tokens go into the rpm/tpm
 * windows; 429s and exhausted quotas hold a model back for every session.
 */
@Injectable()
export class ProviderCapacityService {
  private readonly rules: readonly ProviderLimitRule[];
  private readonly quotaHoldMs: number;
  private readonly permitTtlMs: number;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly rulesByModel = new Map<string, ModelRules>();

  constructor(
    @Inject(CAPACITY_STORE) private readonly store: CapacityStorePort,
    @Inject(USAGE_WINDOWS) private readonly windows: UsageWindowsPort,
    @Inject(CAPACITY_METRICS) private readonly metrics: CapacityMetricsPort,
    config: AppConfig,
    @Optional() @Inject(CAPACITY_OPTIONS) options: CapacityOptions = {},
  ) {
    this.rules = config.capacity.providerLimits;
    this.quotaHoldMs = config.capacity.quotaHoldMinutes * 60_000;
    this.permitTtlMs = options.permitTtlMs ?? PERMIT_TTL_MS;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
  }

  /**
   * One decision, one or two Redis round trips: the model's mark, then a slot in every matching
   * concurrency bucket (all or none, atomically), then 1 request in every rpm window and room
   * left in every tpm window. A mark refuses even a session that holds slots already (it keeps
   * them until it releases); otherwise a session holding its slots is admitted again as it is.
   */
  async admit(request: { sessionId: string; model: string }): Promise<Admission> {
    const { sessionId, model } = request;
    const rules = this.rulesOf(model);
    const acquired = await this.store.acquire({ sessionId, model, buckets: rules.buckets, holdMs: this.permitTtlMs, waitMs: WAITER_TTL_MS });
    if (acquired.outcome === 'marked') return this.refuse(model, this.markRefusal(acquired.mark));
    if (acquired.outcome === 'full') {
      const { pattern, limit, inUse, waiting } = acquired;
      return this.refuse(model, {
        admitted: false,
        reason: 'concurrency',
        rule: pattern,
        retryInMs: concurrencyRetryMs(waiting, limit, this.random),
        message: `${pattern} allows ${limit} turn(s) at once: ${inUse} running, ${waiting} waiting`,
      });
    }
    const permit: CapacityPermit = { sessionId, model, rules: rules.buckets.map((b) => b.pattern) };
    if (acquired.already) return { admitted: true, permit };

    const refusal = await this.takeWindows(rules);
    if (!refusal) return { admitted: true, permit };
    await this.release(permit);
    return this.refuse(model, refusal);
  }

  async renew(permit: CapacityPermit): Promise<void> {
    if (permit.rules.length) await this.store.renew(permit.sessionId, permit.rules, this.permitTtlMs);
  }

  async release(permit: CapacityPermit): Promise<void> {
    if (permit.rules.length) await this.store.release(permit.sessionId, permit.rules);
  }

  /** A model step finished: 1 request in every rpm window (admit counted the first step's) and its tokens in every tpm window. */
  async recordStep(model: string, tokens: number, options: { firstStep?: boolean } = {}): Promise<void> {
    const rules = this.rulesOf(model);
    const counted = Math.max(0, Math.round(tokens));
    await Promise.all([
      !options.firstStep && rules.rpm.length ? this.windows.add('rpm', rules.rpm, 1) : undefined,
      counted > 0 && rules.tpm.length ? this.windows.add('tpm', rules.tpm, counted) : undefined,
    ]);
  }

  /**
   * The provider answered 429/overloaded: the model cools down for retryAfterMs, or else for a
   * backoff that grows with its 429s of the last 5 minutes. Answers the wait to requeue the
   * throttled session with: the cooldown in force plus jitter, so that its sessions do not all
   * come back at once.
   */
  async rateLimited(model: string, retryAfterMs?: number): Promise<number> {
    this.metrics.rateLimited(model);
    const recent = await this.store.countRateLimit(model, RATE_LIMIT_MEMORY_MS);
    const told = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0;
    const cooldownMs = Math.max(1, told ? Math.round(retryAfterMs) : backoffWithJitter(recent - 1, COOLDOWN_BASE_MS, COOLDOWN_CAP_MS, this.random));
    const now = this.now();
    const why = `rate limited by the provider (${recent} time(s) in 5 min${told ? `, Retry-After ${cooldownMs} ms` : ''})`;
    const mark = await this.store.mark({ model, kind: 'cooldown', until: new Date(now + cooldownMs), why });
    const waitMs = Math.max(0, mark.until.getTime() - now);
    return waitMs + Math.round(this.random() * Math.min(1_000, Math.max(100, waitMs / 4)));
  }

  /** Quota exhausted: the model is unavailable until `until` (default now + quotaHoldMinutes); answers the end in force. */
  async quotaExhausted(model: string, until?: Date, why?: string): Promise<Date> {
    this.metrics.quotaExhausted(model);
    const now = this.now();
    const end = until && until.getTime() > now ? until : new Date(now + this.quotaHoldMs);
    const mark = await this.store.mark({ model, kind: 'unavailable', until: end, why: why ?? 'quota exhausted' });
    return mark.until;
  }

  /** The models neither unavailable nor cooling down now, in the given order. */
  async usable(models: string[]): Promise<string[]> {
    if (!models.length) return [];
    const marked = new Set((await this.store.marksOf([...new Set(models)])).map((m) => m.model));
    return models.filter((m) => !marked.has(m));
  }

  /** Every rule with its limits and what is in use now, and every marked model. */
  async status(): Promise<CapacityStatus> {
    const buckets = this.rules.filter((r) => r.concurrency !== undefined).map((r) => r.pattern);
    const windowsOf = (metric: WindowMetric) => this.rules.flatMap((r) => (r[metric] === undefined ? [] : [{ pattern: r.pattern, limit: r[metric] as number }]));
    const [occupancy, rpm, tpm, marks] = await Promise.all([
      buckets.length ? this.store.occupancy(buckets) : new Map<string, { holders: string[]; waiting: number }>(),
      this.readWindows('rpm', windowsOf('rpm')),
      this.readWindows('tpm', windowsOf('tpm')),
      this.store.marks(),
    ]);
    const rules = this.rules.map((rule): CapacityRuleStatus => {
      const status: CapacityRuleStatus = { pattern: rule.pattern };
      if (rule.concurrency !== undefined) {
        const { holders, waiting } = occupancy.get(rule.pattern) ?? { holders: [], waiting: 0 };
        status.concurrency = { limit: rule.concurrency, inUse: holders.length, holders, waiting };
      }
      for (const [metric, states] of [['rpm', rpm], ['tpm', tpm]] as const) {
        const state = states.get(rule.pattern);
        if (state) status[metric] = { limit: state.limit, used: Math.min(state.used, state.limit), resetInMs: state.resetInMs };
      }
      return status;
    });
    return { rules, marks: marks.sort((a, b) => a.model.localeCompare(b.model)) };
  }

  /** An operator lifts a model's mark; false when it had none. */
  clearMark(model: string): Promise<boolean> {
    return this.store.clearMark(model);
  }

  /** 1 request in every rpm window, and room left in every tpm window; undone when refused. */
  private async takeWindows(rules: ModelRules): Promise<Refusal | undefined> {
    if (!rules.rpm.length && !rules.tpm.length) return undefined;
    const [rpmFull, tpm] = await Promise.all([
      rules.rpm.length ? this.windows.take('rpm', rules.rpm, 1) : undefined,
      rules.tpm.length ? this.windows.read('tpm', rules.tpm) : [],
    ]);
    if (rpmFull) return this.windowRefusal('rpm', rpmFull);
    const tpmFull = tpm.find((w) => w.used >= w.limit);
    if (!tpmFull) return undefined;
    if (rules.rpm.length) await this.windows.giveBack('rpm', rules.rpm, 1);
    return this.windowRefusal('tpm', tpmFull);
  }

  private windowRefusal(metric: WindowMetric, window: WindowState): Refusal {
    const what = metric === 'rpm' ? 'model requests' : 'tokens';
    const retryInMs = Math.max(1, window.resetInMs);
    return {
      admitted: false,
      reason: metric,
      rule: window.pattern,
      retryInMs,
      until: new Date(this.now() + retryInMs),
      message: `${window.pattern} allows ${window.limit} ${what} a minute, used up; the window resets in ${Math.ceil(retryInMs / 1000)} s`,
    };
  }

  private markRefusal(mark: ModelMark): Refusal {
    const retryInMs = Math.max(1, mark.until.getTime() - this.now());
    const state = mark.kind === 'cooldown' ? 'cooling down' : 'unavailable';
    return {
      admitted: false,
      reason: mark.kind,
      rule: mark.model,
      retryInMs,
      until: mark.until,
      message: `${mark.model} is ${state} until ${mark.until.toISOString()}: ${mark.why}`,
    };
  }

  private refuse(model: string, refusal: Refusal): Refusal {
    this.metrics.throttled(model, refusal.reason as ThrottleReason);
    return refusal;
  }

  private async readWindows(metric: WindowMetric, windows: UsageWindow[]): Promise<Map<string, WindowState>> {
    const states = windows.length ? await this.windows.read(metric, windows) : [];
    return new Map(states.map((s) => [s.pattern, s]));
  }

  private rulesOf(model: string): ModelRules {
    let rules = this.rulesByModel.get(model);
    if (rules) return rules;
    const matching = this.rules.filter((r) => ruleMatches(r.pattern, model));
    const windows = (metric: WindowMetric) => matching.flatMap((r) => (r[metric] === undefined ? [] : [{ pattern: r.pattern, limit: r[metric] as number }]));
    rules = {
      buckets: matching.flatMap((r) => (r.concurrency === undefined ? [] : [{ pattern: r.pattern, limit: r.concurrency }])),
      rpm: windows('rpm'),
      tpm: windows('tpm'),
    };
    if (this.rulesByModel.size >= RULE_CACHE_LIMIT) this.rulesByModel.clear();
    this.rulesByModel.set(model, rules);
    return rules;
  }
}

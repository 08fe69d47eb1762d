import type { AcquireRequest, AcquireResult, CapacityStorePort, MarkRequest } from '../application/ports/capacity-store.port';
import type { CapacityMetricsPort } from '../application/ports/capacity-metrics.port';
import type { UsageWindow, UsageWindowsPort, WindowMetric, WindowState } from '../application/ports/usage-windows.port';
import type { ModelMark, ThrottleReason } from '../domain/capacity';

/** A clock the fakes and the service share; tests move it forward. */
export class FakeClock {
  constructor(public ms = Date.parse('2025-01-01T00:00:00Z')) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** CAPACITY_STORE in memory, with the Redis store's semantics (expiry by the clock). */
export class InMemoryCapacityStore implements CapacityStorePort {
  private readonly holders = new Map<string, Map<string, number>>();
  private readonly waiters = new Map<string, Map<string, number>>();
  private readonly markOf = new Map<string, ModelMark>();
  private readonly rateLimits = new Map<string, number[]>();

  constructor(private readonly clock: FakeClock = new FakeClock()) {}

  async acquire({ sessionId, model, buckets, holdMs, waitMs }: AcquireRequest): Promise<AcquireResult> {
    const mark = this.live(model);
    if (mark) return { outcome: 'marked', mark };
    const now = this.clock.now();
    let held = 0;
    for (const bucket of buckets) {
      const holders = this.zset(this.holders, bucket.pattern);
      if (holders.has(sessionId)) held++;
      else if (holders.size >= bucket.limit) {
        const waiters = this.zset(this.waiters, bucket.pattern);
        waiters.set(sessionId, now + waitMs);
        return { outcome: 'full', pattern: bucket.pattern, limit: bucket.limit, inUse: holders.size, waiting: waiters.size };
      }
    }
    for (const bucket of buckets) {
      this.zset(this.holders, bucket.pattern).set(sessionId, now + holdMs);
      this.zset(this.waiters, bucket.pattern).delete(sessionId);
    }
    return { outcome: 'granted', already: buckets.length > 0 && held === buckets.length };
  }

  async renew(sessionId: string, patterns: string[], holdMs: number): Promise<void> {
    for (const pattern of patterns) {
      const holders = this.zset(this.holders, pattern);
      if (holders.has(sessionId)) holders.set(sessionId, this.clock.now() + holdMs);
    }
  }

  async release(sessionId: string, patterns: string[]): Promise<void> {
    for (const pattern of patterns) this.zset(this.holders, pattern).delete(sessionId);
  }

  async mark({ model, kind, until, why }: MarkRequest): Promise<ModelMark> {
    const current = this.live(model);
    if (current && current.until.getTime() >= until.getTime()) return current;
    const mark = { model, kind, until, why };
    this.markOf.set(model, mark);
    return mark;
  }

  async countRateLimit(model: string, windowMs: number): Promise<number> {
    const now = this.clock.now();
    const times = [...(this.rateLimits.get(model) ?? []).filter((t) => t > now - windowMs), now];
    this.rateLimits.set(model, times);
    return times.length;
  }

  async marksOf(models: string[]): Promise<ModelMark[]> {
    return models.flatMap((m) => this.live(m) ?? []);
  }

  async marks(): Promise<ModelMark[]> {
    return this.marksOf([...this.markOf.keys()]);
  }

  async clearMark(model: string): Promise<boolean> {
    const had = this.live(model) !== undefined;
    this.markOf.delete(model);
    return had;
  }

  async occupancy(patterns: string[]): Promise<Map<string, { holders: string[]; waiting: number }>> {
    return new Map(patterns.map((p) => [p, { holders: [...this.zset(this.holders, p).keys()], waiting: this.zset(this.waiters, p).size }]));
  }

  /** The members not expired yet (expired ones purged, as the Redis script does). */
  private zset(sets: Map<string, Map<string, number>>, pattern: string): Map<string, number> {
    let set = sets.get(pattern);
    if (!set) sets.set(pattern, (set = new Map()));
    const now = this.clock.now();
    for (const [member, expiry] of set) if (expiry <= now) set.delete(member);
    return set;
  }

  private live(model: string): ModelMark | undefined {
    const mark = this.markOf.get(model);
    if (mark && mark.until.getTime() <= this.clock.now()) {
      this.markOf.delete(model);
      return undefined;
    }
    return mark;
  }
}

/** USAGE_WINDOWS in memory: fixed one-minute windows by the clock. */
export class InMemoryUsageWindows implements UsageWindowsPort {
  private readonly windows = new Map<string, { used: number; resetsAt: number }>();

  constructor(private readonly clock: FakeClock = new FakeClock()) {}

  async take(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<WindowState | undefined> {
    const full = (await this.read(metric, windows)).find((w) => w.used + amount > w.limit);
    if (full) return full;
    await this.add(metric, windows, amount);
    return undefined;
  }

  async add(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<void> {
    for (const w of windows) this.window(metric, w.pattern).used += amount;
  }

  async giveBack(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<void> {
    for (const w of windows) this.window(metric, w.pattern).used -= amount;
  }

  async read(metric: WindowMetric, windows: UsageWindow[]): Promise<WindowState[]> {
    return windows.map((w) => {
      const open = this.open(metric, w.pattern);
      return { ...w, used: open?.used ?? 0, resetInMs: open ? open.resetsAt - this.clock.now() : 0 };
    });
  }

  private open(metric: WindowMetric, pattern: string): { used: number; resetsAt: number } | undefined {
    const window = this.windows.get(`${metric}|${pattern}`);
    return window && window.resetsAt > this.clock.now() ? window : undefined;
  }

  private window(metric: WindowMetric, pattern: string): { used: number; resetsAt: number } {
    let window = this.open(metric, pattern);
    if (!window) this.windows.set(`${metric}|${pattern}`, (window = { used: 0, resetsAt: this.clock.now() + 60_000 }));
    return window;
  }
}

/** CAPACITY_METRICS that remembers what it was told. */
export class RecordingCapacityMetrics implements CapacityMetricsPort {
  readonly throttles: { model: string; reason: ThrottleReason }[] = [];
  readonly rateLimits: string[] = [];
  readonly quotaExhaustions: string[] = [];

  throttled(model: string, reason: ThrottleReason): void {
    this.throttles.push({ model, reason });
  }

  rateLimited(model: string): void {
    this.rateLimits.push(model);
  }

  quotaExhausted(model: string): void {
    this.quotaExhaustions.push(model);
  }
}

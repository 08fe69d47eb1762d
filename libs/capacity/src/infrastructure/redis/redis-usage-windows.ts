import type Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { UsageWindow, UsageWindowsPort, WindowMetric, WindowState } from '../../application/ports/usage-windows.port';

const WINDOW_SECONDS = 60;

/**
 * The rpm and tpm windows, kept by rate-limiter-flexible's RateLimiterRedis (one fixed
 * one-minute window per rule, opened by its first count) on the app's Redis connection, under
 * `<prefix>:capacity:<rpm|tpm>:<pattern>`. A shared `provider/*` or `*` rule is one key.
 */
export class RedisUsageWindows implements UsageWindowsPort {
  private readonly limiters = new Map<string, RateLimiterRedis>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async take(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<WindowState | undefined> {
    const results = await Promise.allSettled(windows.map((w) => this.limiter(metric, w).consume(w.pattern, amount)));
    const refusal = (r: PromiseSettledResult<unknown>) => r.status === 'rejected' && r.reason instanceof RateLimiterRes;
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !refusal(r));
    const refusedAt = results.findIndex(refusal);
    if (failure === undefined && refusedAt < 0) return undefined;
    // Refused somewhere (or failed): uncount it wherever it was counted, refused windows included,
    // so that a refusal costs no window anything.
    const counted = windows.filter((_, i) => results[i].status === 'fulfilled' || refusal(results[i]));
    await this.giveBack(metric, counted, amount);
    if (failure) throw failure.reason;
    const refused = (results[refusedAt] as PromiseRejectedResult).reason as RateLimiterRes;
    return { ...windows[refusedAt], used: refused.consumedPoints - amount, resetInMs: Math.max(0, refused.msBeforeNext) };
  }

  async add(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<void> {
    await Promise.all(windows.map((w) => this.limiter(metric, w).penalty(w.pattern, amount)));
  }

  async giveBack(metric: WindowMetric, windows: UsageWindow[], amount: number): Promise<void> {
    await Promise.all(windows.map((w) => this.limiter(metric, w).reward(w.pattern, amount)));
  }

  async read(metric: WindowMetric, windows: UsageWindow[]): Promise<WindowState[]> {
    const results = await Promise.all(windows.map((w) => this.limiter(metric, w).get(w.pattern)));
    return windows.map((w, i) => {
      const res = results[i];
      return res ? { ...w, used: Math.max(0, res.consumedPoints), resetInMs: Math.max(0, res.msBeforeNext) } : { ...w, used: 0, resetInMs: 0 };
    });
  }

  private limiter(metric: WindowMetric, window: UsageWindow): RateLimiterRedis {
    const id = `${metric}|${window.pattern}|${window.limit}`;
    let limiter = this.limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterRedis({ storeClient: this.redis, keyPrefix: `${this.prefix}:capacity:${metric}`, points: window.limit, duration: WINDOW_SECONDS });
      this.limiters.set(id, limiter);
    }
    return limiter;
  }
}

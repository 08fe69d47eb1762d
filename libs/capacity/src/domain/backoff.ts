/**
 * About `baseMs · 2^attempt`, never above `capMs`, spread ±20% so that the sessions a provider
 * throttled together do not all come back at the same instant. attempt 0 is the first retry.
 */
export function backoffWithJitter(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const exponent = Number.isFinite(attempt) && attempt > 0 ? Math.floor(attempt) : 0;
  const delay = Math.min(capMs, baseMs * 2 ** exponent);
  return Math.round(Math.min(capMs, delay * (0.8 + 0.4 * random())));
}

/**
 * A Retry-After value (RFC 9110: delay-seconds or an HTTP date) in milliseconds from `now`;
 * undefined when absent or unreadable, 0 for a date already past.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // Only a date with letters in it: Date.parse reads "-5" or "1e3" as years.
  if (!/[a-z]/i.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export const CONCURRENCY_RETRY_MIN_MS = 250;
export const CONCURRENCY_RETRY_MAX_MS = 2_000;

/**
 * When a session refused a concurrency slot should ask again: 250 ms at the least, jittered up to
 * a ceiling that grows from 500 ms to 2 s with how many sessions wait per slot of the bucket.
 */
export function concurrencyRetryMs(waiting: number, limit: number, random: () => number = Math.random): number {
  const perSlot = Math.max(0, waiting) / Math.max(1, limit);
  const ceiling = Math.min(CONCURRENCY_RETRY_MAX_MS, Math.max(2 * CONCURRENCY_RETRY_MIN_MS, CONCURRENCY_RETRY_MIN_MS * (1 + perSlot)));
  return Math.round(CONCURRENCY_RETRY_MIN_MS + random() * (ceiling - CONCURRENCY_RETRY_MIN_MS));
}

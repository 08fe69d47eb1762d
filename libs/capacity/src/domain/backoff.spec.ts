import { backoffWithJitter, concurrencyRetryMs, parseRetryAfter } from './backoff';

describe('backoffWithJitter', () => {
  const middle = () => 0.5;

  it('doubles from the base per attempt up to the cap', () => {
    expect([0, 1, 2, 3, 6, 7, 30].map((a) => backoffWithJitter(a, 1_000, 60_000, middle))).toEqual([
      1_000, 2_000, 4_000, 8_000, 60_000, 60_000, 60_000,
    ]);
  });

  it('spreads ±20% and never passes the cap', () => {
    expect(backoffWithJitter(2, 1_000, 60_000, () => 0)).toBe(3_200);
    expect(backoffWithJitter(2, 1_000, 60_000, () => 0.999999)).toBe(4_800);
    expect(backoffWithJitter(10, 1_000, 60_000, () => 0.999999)).toBe(60_000);
    expect(backoffWithJitter(10, 1_000, 60_000, () => 0)).toBe(48_000);
  });

  it('treats a negative, fractional or absurd attempt sanely', () => {
    expect(backoffWithJitter(-3, 1_000, 60_000, middle)).toBe(1_000);
    expect(backoffWithJitter(1.7, 1_000, 60_000, middle)).toBe(2_000);
    expect(backoffWithJitter(Number.NaN, 1_000, 60_000, middle)).toBe(1_000);
    expect(backoffWithJitter(5_000, 1_000, 60_000, middle)).toBe(60_000);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('30', now)).toBe(30_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('1.5', now)).toBe(1_500);
  });

  it('reads an HTTP date, relative to now, and 0 for the past', () => {
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:45 GMT', now)).toBe(45_000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });

  it('gives undefined for nothing or nonsense', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('1e3', now)).toBeUndefined();
  });
});

describe('concurrencyRetryMs', () => {
  it('stays from 250 ms to 2 s and its ceiling grows with the waiters per slot', () => {
    expect(concurrencyRetryMs(0, 2, () => 0)).toBe(250);
    expect(concurrencyRetryMs(0, 2, () => 1)).toBe(500);
    expect(concurrencyRetryMs(6, 2, () => 1)).toBe(1_000);
    expect(concurrencyRetryMs(1_000, 2, () => 1)).toBe(2_000);
    expect(concurrencyRetryMs(1_000, 2, () => 0)).toBe(250);
  });
});

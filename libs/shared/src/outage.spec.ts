import { CommonErrorCode } from './domain-error';
import { retryWhileUnavailable, ServiceUnavailableError } from './outage';

class Away extends Error {}
const isUnavailable = (err: unknown) => err instanceof Away;

/** Work that fails with `failures` errors in turn, then answers 'done'; records its tries. */
function flaky(failures: Error[]) {
  const tries: number[] = [];
  return {
    tries,
    work: async (tryNumber: number) => {
      tries.push(tryNumber);
      const failure = failures.shift();
      if (failure) throw failure;
      return 'done';
    },
  };
}

describe('retryWhileUnavailable', () => {
  it('tries again while the service is away and reports the wait once, from its start to the answer', async () => {
    const { tries, work } = flaky([new Away('refused'), new Away('refused'), new Away('refused')]);
    const events: string[] = [];
    const result = await retryWhileUnavailable(work, {
      isUnavailable,
      budgetMs: 10_000,
      initialDelayMs: 1,
      onWait: (err) => events.push(`wait: ${(err as Error).message}`),
      onEnd: (outcome, waitedMs, err) => events.push(`${outcome} ${waitedMs >= 0} ${err === undefined}`),
    });
    expect(result).toBe('done');
    expect(tries).toEqual([1, 2, 3, 4]);
    expect(events).toEqual(['wait: refused', 'recovered true true']);
  });

  it('lets any other error through at once, without waiting', async () => {
    const { tries, work } = flaky([new Error('syntax error at or near "SELEC"')]);
    const onWait = jest.fn();
    const onEnd = jest.fn();
    await expect(retryWhileUnavailable(work, { isUnavailable, budgetMs: 10_000, initialDelayMs: 1, onWait, onEnd })).rejects.toThrow('syntax error');
    expect(tries).toEqual([1]);
    expect(onWait).not.toHaveBeenCalled();
    expect(onEnd).not.toHaveBeenCalled();
  });

  it('ends the wait as recovered when the service answers with another error', async () => {
    const { work } = flaky([new Away('refused'), new Error('duplicate key')]);
    const onEnd = jest.fn();
    await expect(retryWhileUnavailable(work, { isUnavailable, budgetMs: 10_000, initialDelayMs: 1, onEnd })).rejects.toThrow('duplicate key');
    expect(onEnd).toHaveBeenCalledWith('recovered', expect.any(Number), expect.objectContaining({ message: 'duplicate key' }));
  });

  it('gives up once its budget is spent and throws the last unavailable error', async () => {
    const away = Array.from({ length: 1000 }, (_, i) => new Away(`refused ${i + 1}`));
    const { tries, work } = flaky(away);
    const onEnd = jest.fn();
    const failed = retryWhileUnavailable(work, { isUnavailable, budgetMs: 30, initialDelayMs: 5, maxDelayMs: 5, onEnd });
    await expect(failed).rejects.toBeInstanceOf(Away);
    await expect(failed).rejects.toThrow(`refused ${tries.length}`);
    expect(tries.length).toBeGreaterThan(1);
    expect(onEnd).toHaveBeenCalledWith('gave_up', expect.any(Number), expect.any(Away));
  });

  it('stops waiting when its signal fires', async () => {
    const stop = new AbortController();
    const { tries, work } = flaky(Array.from({ length: 1000 }, () => new Away('refused')));
    const failed = retryWhileUnavailable(work, { isUnavailable, budgetMs: 60_000, initialDelayMs: 60_000, signal: stop.signal });
    await new Promise((r) => setImmediate(r));
    stop.abort();
    await expect(failed).rejects.toBeInstanceOf(Away);
    expect(tries).toEqual([1, 2]); // the pause ended at once, one more try, then it gave up
  });

  it('doubles the pause between tries up to its maximum', async () => {
    jest.useFakeTimers();
    try {
      const { tries, work } = flaky(Array.from({ length: 6 }, () => new Away('refused')));
      const done = retryWhileUnavailable(work, { isUnavailable, budgetMs: 60_000, initialDelayMs: 100, maxDelayMs: 400 });
      const triesAfter = async (ms: number) => {
        await jest.advanceTimersByTimeAsync(ms);
        return tries.length;
      };
      expect(await triesAfter(0)).toBe(1);
      expect(await triesAfter(100)).toBe(2); // paused 100
      expect(await triesAfter(199)).toBe(2);
      expect(await triesAfter(1)).toBe(3); // paused 200
      expect(await triesAfter(400)).toBe(4); // paused 400
      expect(await triesAfter(400)).toBe(5); // still 400: the maximum
      await jest.advanceTimersByTimeAsync(800);
      await expect(done).resolves.toBe('done');
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('ServiceUnavailableError', () => {
  it('says which service is away, as a retryable 503 code with Retry-After', () => {
    const database = new ServiceUnavailableError('database');
    expect(database.code).toBe(CommonErrorCode.DATABASE_UNAVAILABLE);
    expect(database.retryable).toBe(true);
    expect(database.retryAfterSeconds).toBeGreaterThan(0);
    expect(database.message).toContain('PostgreSQL');
    expect(new ServiceUnavailableError('redis').code).toBe(CommonErrorCode.REDIS_UNAVAILABLE);
  });
});

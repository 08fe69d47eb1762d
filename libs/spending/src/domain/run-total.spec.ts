import { ZERO_USAGE } from '@app/shared';
import { recordRunTotal, runTotalOf, spendOfRunTotal, subtractSpend, ZERO_RUN_TOTAL } from './run-total';

const usage = (tokens: number, costUsd: number) => ({ ...ZERO_USAGE, inputTokens: tokens, costUsd });

describe('run totals', () => {
  it('counts every kind of token, whole milliseconds, and nothing below zero', () => {
    expect(runTotalOf({ ...ZERO_USAGE, inputTokens: 1, outputTokens: 2, reasoningTokens: 3, cacheReadTokens: 4, cacheWriteTokens: 5, costUsd: 0.1 }, 1500.4)).toEqual({
      tokens: 15,
      costUsd: 0.1,
      runningMs: 1500,
    });
    expect(runTotalOf(null, -5)).toEqual(ZERO_RUN_TOTAL);
    expect(runTotalOf(null, Number.NaN)).toEqual(ZERO_RUN_TOTAL);
  });

  it('adds only what a cumulative report has beyond the record', () => {
    const first = recordRunTotal(ZERO_RUN_TOTAL, runTotalOf(usage(100, 0.5), 60_000));
    expect(first.increase).toEqual({ tokens: 100, costUsd: 0.5, runningMs: 60_000 });
    const again = recordRunTotal(first.recorded, runTotalOf(usage(100, 0.5), 60_000));
    expect(again.increase).toEqual(ZERO_RUN_TOTAL);
    const more = recordRunTotal(first.recorded, runTotalOf(usage(130, 0.5), 90_000));
    expect(more.increase).toEqual({ tokens: 30, costUsd: 0, runningMs: 30_000 });
  });

  it('never lowers the record: a resumed run that saw less adds nothing of that part', () => {
    const { recorded, increase } = recordRunTotal({ tokens: 100, costUsd: 0.5, runningMs: 60_000 }, { tokens: 40, costUsd: 0.7, runningMs: 10_000 });
    expect(recorded).toEqual({ tokens: 100, costUsd: 0.7, runningMs: 60_000 });
    expect(increase.tokens).toBe(0);
    expect(increase.costUsd).toBeCloseTo(0.2);
    expect(increase.runningMs).toBe(0);
  });

  it('speaks the budget units', () => {
    expect(spendOfRunTotal({ tokens: 5, costUsd: 1, runningMs: 90_000 })).toEqual({ tokens: 5, costUsd: 1, minutes: 1.5 });
    expect(subtractSpend({ tokens: 5, costUsd: 0.3, minutes: 1 }, { tokens: 2, costUsd: 0.30000000001, minutes: 1 })).toEqual({ tokens: 3, costUsd: 0, minutes: 0 });
  });
});

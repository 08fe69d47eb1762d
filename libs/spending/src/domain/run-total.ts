import { tokensOf } from '@app/shared';
import type { Spend, TokenUsage } from '@app/shared';

/** What a run attempt has used so far, as recorded in the ledger (whole tokens and milliseconds). */
export interface RunTotal {
  tokens: number;
  costUsd: number;
  runningMs: number;
}

export const ZERO_RUN_TOTAL: Readonly<RunTotal> = Object.freeze({ tokens: 0, costUsd: 0, runningMs: 0 });

/** An attempt's cumulative usage and running time, as a run total. */
export function runTotalOf(usage: TokenUsage | null, runningMs: number): RunTotal {
  return {
    tokens: Math.max(0, Math.round(tokensOf(usage))),
    costUsd: Math.max(0, usage?.costUsd ?? 0),
    runningMs: Math.max(0, Math.round(Number.isFinite(runningMs) ? runningMs : 0)),
  };
}

export interface RecordedRunTotal {
  /** What the attempt's row holds after this report: each part never goes down. */
  recorded: RunTotal;
  /** What is new since the previous record: what the ledger rows gain. */
  increase: RunTotal;
}

/**
 * A report of an attempt's cumulative total against what was recorded before. A resumed run, or
 * a second worker, reports totals already counted (or, having seen less, smaller ones): only the
 * part above the record is new, so reporting again never counts twice.
 */
export function recordRunTotal(previous: RunTotal, reported: RunTotal): RecordedRunTotal {
  const recorded: RunTotal = {
    tokens: Math.max(previous.tokens, reported.tokens),
    costUsd: Math.max(previous.costUsd, reported.costUsd),
    runningMs: Math.max(previous.runningMs, reported.runningMs),
  };
  const increase: RunTotal = {
    tokens: recorded.tokens - previous.tokens,
    costUsd: recorded.costUsd - previous.costUsd,
    runningMs: recorded.runningMs - previous.runningMs,
  };
  return { recorded, increase };
}

export function isNothing(total: RunTotal): boolean {
  return total.tokens === 0 && total.costUsd === 0 && total.runningMs === 0;
}

/** A run total in the budget's units. */
export function spendOfRunTotal(total: RunTotal): Spend {
  return { tokens: total.tokens, costUsd: total.costUsd, minutes: total.runningMs / 60_000 };
}

/** a - b, each part at least 0 (floating cost sums may leave a crumb below). */
export function subtractSpend(a: Spend, b: Spend): Spend {
  return { tokens: Math.max(0, a.tokens - b.tokens), costUsd: Math.max(0, a.costUsd - b.costUsd), minutes: Math.max(0, a.minutes - b.minutes) };
}

import type { Budget, BudgetLimit, Spend } from '@app/shared';
import type { LedgerStanding, RecordedIncrease, RunAttempt, RunStanding, SpendingLedgerPort } from '../application/ports/spending-ledger.port';
import type { SpendingClock } from '../application/ports/spending-clock.port';
import type { SpendLabels, SpendingMetricsPort } from '../application/ports/spending-metrics.port';
import { SpendingService } from '../application/spending.service';
import type { BudgetEvent } from '../domain/budget-check';
import { isNothing, recordRunTotal, ZERO_RUN_TOTAL, type RunTotal } from '../domain/run-total';
import type { LedgerKey, LimitScope, SpendScope } from '../domain/spend-scope';

const rowKey = (k: LedgerKey) => `${k.scope}|${k.scopeId}|${k.day}`;
const runKey = (r: RunAttempt) => `${r.sessionId}|${r.attempt}`;

/** Unit-test double of the ledger, with the same idempotent recording as the real one (one process). */
export class InMemorySpendingLedger implements SpendingLedgerPort {
  readonly limits = new Map<string, Budget>();
  readonly runs = new Map<string, RunTotal>();
  /** Ledger rows by `SCOPE|id|day`, in milliseconds of running time like the table. */
  readonly rows = new Map<string, RunTotal>();

  async setLimit(scope: LimitScope, scopeId: string, budget: Budget | null): Promise<void> {
    if (budget) this.limits.set(`${scope}|${scopeId}`, { ...budget });
    else this.limits.delete(`${scope}|${scopeId}`);
  }

  async standing(run: RunAttempt, keys: readonly LedgerKey[]): Promise<RunStanding> {
    return { run: { ...(this.runs.get(runKey(run)) ?? ZERO_RUN_TOTAL) }, rows: keys.map((k) => this.standingOf(k)) };
  }

  async record(run: RunAttempt, reported: RunTotal, keys: readonly LedgerKey[]): Promise<RecordedIncrease> {
    const runBefore = { ...(this.runs.get(runKey(run)) ?? ZERO_RUN_TOTAL) };
    const { recorded: runAfter, increase } = recordRunTotal(runBefore, reported);
    this.runs.set(runKey(run), runAfter);
    if (!isNothing(increase)) {
      for (const k of keys) {
        const row = this.rows.get(rowKey(k)) ?? ZERO_RUN_TOTAL;
        this.rows.set(rowKey(k), {
          tokens: row.tokens + increase.tokens,
          costUsd: row.costUsd + increase.costUsd,
          runningMs: row.runningMs + increase.runningMs,
        });
      }
    }
    return { runBefore, runAfter, increase, rows: keys.map((k) => this.standingOf(k)) };
  }

  async spent(scope: SpendScope, ids: readonly string[], day: string): Promise<Map<string, Spend>> {
    const found = new Map<string, Spend>();
    for (const id of ids) {
      const row = this.rows.get(rowKey({ scope, scopeId: id, day }));
      if (row) found.set(id, spendOfRow(row));
    }
    return found;
  }

  private standingOf(k: LedgerKey): LedgerStanding {
    const row = this.rows.get(rowKey(k)) ?? ZERO_RUN_TOTAL;
    return { ...k, spent: spendOfRow(row), budget: k.scope === 'SESSION' ? null : (this.limits.get(`${k.scope}|${k.scopeId}`) ?? null) };
  }
}

function spendOfRow(row: RunTotal): Spend {
  return { tokens: row.tokens, costUsd: row.costUsd, minutes: row.runningMs / 60_000 };
}

/** Keeps what the spending context reports, to assert on. */
export class RecordingSpendingMetrics implements SpendingMetricsPort {
  readonly spending: Array<{ labels: SpendLabels; increase: Spend }> = [];
  readonly left: Array<{ scope: SpendScope; scopeId: string; limit: BudgetLimit; share: number }> = [];
  readonly events: Array<{ scope: SpendScope; event: BudgetEvent }> = [];

  spent(labels: SpendLabels, increase: Spend): void {
    this.spending.push({ labels, increase });
  }

  budgetLeft(scope: SpendScope, scopeId: string, limit: BudgetLimit, share: number): void {
    this.left.push({ scope, scopeId, limit, share });
  }

  budgetEvent(scope: SpendScope, event: BudgetEvent): void {
    this.events.push({ scope, event });
  }
}

/** A clock a spec moves by hand. */
export class ManualSpendingClock {
  constructor(public now: Date = new Date('2026-01-15T12:00:00Z')) {}
  readonly read: SpendingClock = () => this.now;
  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }
}

/** The real SpendingService on the in-memory ledger, for other contexts' unit specs. */
export function inMemorySpending(clock: SpendingClock = () => new Date()): {
  service: SpendingService;
  ledger: InMemorySpendingLedger;
  metrics: RecordingSpendingMetrics;
} {
  const ledger = new InMemorySpendingLedger();
  const metrics = new RecordingSpendingMetrics();
  return { service: new SpendingService(ledger, metrics, clock), ledger, metrics };
}

import { Inject, Injectable, Optional } from '@nestjs/common';
import { budgetProblem, normaliseBudget, ZERO_SPEND } from '@app/shared';
import type { Budget, Spend, TokenUsage } from '@app/shared';
import { crossedEvents, judgeOpening, judgeSpending, shareLeft, type BudgetStanding, type SpendCheck } from '../domain/budget-check';
import { runTotalOf, spendOfRunTotal, subtractSpend } from '../domain/run-total';
import { isUtcDay, ledgerDayOf, ledgerKeysOf, utcDay, type LimitScope, type SpendScope } from '../domain/spend-scope';
import { SPENDING_CLOCK, type SpendingClock } from './ports/spending-clock.port';
import { SPENDING_LEDGER, type LedgerStanding, type SpendingLedgerPort } from './ports/spending-ledger.port';
import { SPENDING_METRICS, type SpendingMetricsPort } from './ports/spending-metrics.port';

/** The scopes a run spends for, and its labels. */
export interface RunScopes {
  sessionId: string;
  attempt: number;
  /** The session's own budget, judged on this attempt's own total. */
  sessionBudget: Budget | null;
  planId: string | null;
  agentId: string | null;
  keyId: string | null;
  /** For metric labels. */
  agentName: string | null;
  role: string | null;
  model: string;
}

export interface RunSpendTracker {
  /** Standing of every budget when the run opened (a run whose budget is already used up must not start). */
  readonly opening: SpendCheck;
  /**
   * The attempt's CUMULATIVE usage and running time so far: adds what is new since the attempt's
   * recorded total to the SESSION, PLAN, AGENT (today UTC) and KEY (today UTC) ledger rows in one
   * transaction, records metrics for the increase, and judges every budget (session: this
   * attempt's own total; others: the ledger row after the update). Calls are applied in order.
   */
  update(total: TokenUsage, runningMs: number): Promise<SpendCheck>;
}

/**
 * Budgets enforced from streamed usage. A run opens a tracker and reports its attempt's
 * cumulative usage as it grows; the ledger counts only what is new (a resumed run, or a second
 * worker, reports totals already counted), and every budget of the run is judged against it.
 */
@Injectable()
export class SpendingService {
  private readonly clock: SpendingClock;

  constructor(
    @Inject(SPENDING_LEDGER) private readonly ledger: SpendingLedgerPort,
    @Inject(SPENDING_METRICS) private readonly metrics: SpendingMetricsPort,
    @Optional() @Inject(SPENDING_CLOCK) clock?: SpendingClock,
  ) {
    this.clock = clock ?? (() => new Date());
  }

  /** The copy of a plan's, agent's or API key's budget that runs are judged by; null (or an empty budget) deletes it. */
  async setLimit(scope: LimitScope, scopeId: string, budget: Budget | null): Promise<void> {
    // The owners validate budgets at their edge; one that slips through is a bug, not a client error.
    const problem = budgetProblem(budget);
    if (problem) throw new RangeError(`setLimit(${scope} ${scopeId}): ${problem.field} ${problem.message}`);
    await this.ledger.setLimit(scope, scopeId, normaliseBudget(budget));
  }

  async openRun(scopes: RunScopes, now: Date = this.clock()): Promise<RunSpendTracker> {
    const run = { sessionId: scopes.sessionId, attempt: scopes.attempt };
    const standing = await this.ledger.standing(run, ledgerKeysOf(scopes, now));
    const opening = judgeOpening([
      { scope: 'SESSION', scopeId: scopes.sessionId, budget: normaliseBudget(scopes.sessionBudget), after: spendOfRunTotal(standing.run) },
      ...budgetedRows(standing.rows).map((row) => ({ scope: row.scope, scopeId: row.scopeId, budget: row.budget, after: row.spent })),
    ]);
    return new LedgerRunSpendTracker(scopes, opening, this.ledger, this.metrics, this.clock);
  }

  /** Spent per id: PLAN and SESSION all time, AGENT and KEY today (UTC) unless a day ('YYYY-MM-DD') is given. Ids without rows get ZERO_SPEND. */
  async spentBy(scope: SpendScope, ids: string[], day?: string): Promise<Map<string, Spend>> {
    if (day !== undefined && !isUtcDay(day)) throw new RangeError(`spentBy: day must be a UTC day 'YYYY-MM-DD', not '${day}'`);
    const unique = [...new Set(ids)];
    const found = unique.length ? await this.ledger.spent(scope, unique, ledgerDayOf(scope, day ?? utcDay(this.clock()))) : new Map<string, Spend>();
    return new Map(unique.map((id) => [id, found.get(id) ?? { ...ZERO_SPEND }]));
  }
}

/** Rows whose budgets are judged from the ledger (the session's is judged on the attempt's own total). */
function budgetedRows(rows: readonly LedgerStanding[]): LedgerStanding[] {
  return rows.filter((row) => row.scope !== 'SESSION');
}

class LedgerRunSpendTracker implements RunSpendTracker {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly scopes: RunScopes,
    readonly opening: SpendCheck,
    private readonly ledger: SpendingLedgerPort,
    private readonly metrics: SpendingMetricsPort,
    private readonly clock: SpendingClock,
  ) {}

  update(total: TokenUsage, runningMs: number): Promise<SpendCheck> {
    // One update at a time, in the order reported: each judges the one before it as "before".
    const next = this.queue.then(() => this.record(total, runningMs));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async record(total: TokenUsage, runningMs: number): Promise<SpendCheck> {
    const { scopes } = this;
    const recorded = await this.ledger.record(
      { sessionId: scopes.sessionId, attempt: scopes.attempt },
      runTotalOf(total, runningMs),
      ledgerKeysOf(scopes, this.clock()),
    );
    const increase = spendOfRunTotal(recorded.increase);
    const standings: BudgetStanding[] = [
      {
        scope: 'SESSION',
        scopeId: scopes.sessionId,
        budget: normaliseBudget(scopes.sessionBudget),
        before: spendOfRunTotal(recorded.runBefore),
        after: spendOfRunTotal(recorded.runAfter),
      },
      ...budgetedRows(recorded.rows).map((row) => ({
        scope: row.scope,
        scopeId: row.scopeId,
        budget: row.budget,
        before: subtractSpend(row.spent, increase),
        after: row.spent,
      })),
    ];
    this.report(increase, recorded.rows, standings);
    return judgeSpending(standings);
  }

  private report(increase: Spend, rows: readonly LedgerStanding[], standings: readonly BudgetStanding[]): void {
    const { scopes, metrics } = this;
    if (increase.tokens > 0 || increase.costUsd > 0) {
      metrics.spent({ agent: scopes.agentName, role: scopes.role, model: scopes.model, key: scopes.keyId, plan: scopes.planId }, increase);
    }
    for (const row of budgetedRows(rows)) {
      if (!row.budget) continue;
      for (const { limit, share } of shareLeft(row.budget, row.spent)) metrics.budgetLeft(row.scope, row.scopeId, limit, share);
    }
    for (const standing of standings) for (const event of crossedEvents(standing)) metrics.budgetEvent(standing.scope, event);
  }
}

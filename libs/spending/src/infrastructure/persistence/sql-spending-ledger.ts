import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Budget, Spend } from '@app/shared';
import { DataSource, EntityManager } from 'typeorm';
import type {
  LedgerStanding,
  RecordedIncrease,
  RunAttempt,
  RunStanding,
  SpendingLedgerPort,
} from '../../application/ports/spending-ledger.port';
import { isNothing, recordRunTotal, type RunTotal } from '../../domain/run-total';
import type { LedgerKey, LimitScope, SpendScope } from '../../domain/spend-scope';

interface TotalRow {
  tokens: string | number;
  cost_usd: number;
  running_ms: string | number;
}

interface StandingRow extends TotalRow {
  scope: SpendScope;
  scope_id: string;
  day: string;
  budget: Budget | null;
}

// bigint columns come back as strings.
const totalOf = (row: TotalRow): RunTotal => ({ tokens: Number(row.tokens), costUsd: Number(row.cost_usd), runningMs: Number(row.running_ms) });
const spendOf = (row: TotalRow): Spend => ({ tokens: Number(row.tokens), costUsd: Number(row.cost_usd), minutes: Number(row.running_ms) / 60_000 });

// The keys as three parallel arrays, numbered so that rows keep the order asked for (lock order).
const KEYS = `unnest($1::varchar[], $2::varchar[], $3::date[]) WITH ORDINALITY AS k(scope, scope_id, day, n)`;
const keyParams = (keys: readonly LedgerKey[]) => [keys.map((k) => k.scope), keys.map((k) => k.scopeId), keys.map((k) => k.day)];

/** The rows of the keys as they stand (zero when not written yet), with their budgets. */
const STANDING_SQL = `
  SELECT k.scope, k.scope_id, k.day::text AS day,
         COALESCE(s.tokens, 0) AS tokens, COALESCE(s.cost_usd, 0) AS cost_usd, COALESCE(s.running_ms, 0) AS running_ms, l.budget
  FROM ${KEYS}
  LEFT JOIN spend_ledger s ON s.scope = k.scope AND s.scope_id = k.scope_id AND s.day = k.day
  LEFT JOIN spend_limits l ON l.scope = k.scope AND l.scope_id = k.scope_id
  ORDER BY k.n`;

/** Adds the increase ($4-$6) to every key's row, creating missing ones; the rows after, with their budgets. */
const ADD_SQL = `
  WITH added AS (
    INSERT INTO spend_ledger AS s (scope, scope_id, day, tokens, cost_usd, running_ms, updated_at)
    SELECT k.scope, k.scope_id, k.day, $4, $5, $6, now() FROM ${KEYS} ORDER BY k.n
    ON CONFLICT (scope, scope_id, day) DO UPDATE
      SET tokens = s.tokens + EXCLUDED.tokens, cost_usd = s.cost_usd + EXCLUDED.cost_usd,
          running_ms = s.running_ms + EXCLUDED.running_ms, updated_at = now()
    RETURNING s.scope, s.scope_id, s.day, s.tokens, s.cost_usd, s.running_ms
  )
  SELECT a.scope, a.scope_id, a.day::text AS day, a.tokens, a.cost_usd, a.running_ms, l.budget
  FROM added a LEFT JOIN spend_limits l ON l.scope = a.scope AND l.scope_id = a.scope_id`;

/** The spending ledger in PostgreSQL (migration Spending1770000000000), in raw SQL: upserts with arithmetic. */
@Injectable()
export class SqlSpendingLedger implements SpendingLedgerPort {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async setLimit(scope: LimitScope, scopeId: string, budget: Budget | null): Promise<void> {
    if (!budget) {
      await this.dataSource.query(`DELETE FROM spend_limits WHERE scope = $1 AND scope_id = $2`, [scope, scopeId]);
      return;
    }
    await this.dataSource.query(
      `INSERT INTO spend_limits (scope, scope_id, budget, updated_at) VALUES ($1, $2, $3::jsonb, now())
       ON CONFLICT (scope, scope_id) DO UPDATE SET budget = EXCLUDED.budget, updated_at = now()`,
      [scope, scopeId, JSON.stringify(budget)],
    );
  }

  async standing(run: RunAttempt, keys: readonly LedgerKey[]): Promise<RunStanding> {
    const [runRows, rows]: [TotalRow[], StandingRow[]] = await Promise.all([
      this.dataSource.query(`SELECT tokens, cost_usd, running_ms FROM spend_runs WHERE session_id = $1 AND attempt = $2`, [run.sessionId, run.attempt]),
      keys.length ? this.dataSource.query(STANDING_SQL, keyParams(keys)) : Promise.resolve([]),
    ]);
    return { run: runRows[0] ? totalOf(runRows[0]) : { tokens: 0, costUsd: 0, runningMs: 0 }, rows: rows.map(standingOf) };
  }

  async record(run: RunAttempt, reported: RunTotal, keys: readonly LedgerKey[]): Promise<RecordedIncrease> {
    return this.dataSource.transaction(async (em) => {
      const runBefore = await this.lockRun(em, run);
      const { recorded: runAfter, increase } = recordRunTotal(runBefore, reported);
      if (isNothing(increase) || keys.length === 0) {
        const rows: StandingRow[] = keys.length ? await em.query(STANDING_SQL, keyParams(keys)) : [];
        return { runBefore, runAfter: runBefore, increase: { tokens: 0, costUsd: 0, runningMs: 0 }, rows: orderedAs(keys, rows.map(standingOf)) };
      }
      await em.query(`UPDATE spend_runs SET tokens = $3, cost_usd = $4, running_ms = $5, updated_at = now() WHERE session_id = $1 AND attempt = $2`, [
        run.sessionId,
        run.attempt,
        runAfter.tokens,
        runAfter.costUsd,
        runAfter.runningMs,
      ]);
      const rows: StandingRow[] = await em.query(ADD_SQL, [...keyParams(keys), increase.tokens, increase.costUsd, increase.runningMs]);
      return { runBefore, runAfter, increase, rows: orderedAs(keys, rows.map(standingOf)) };
    });
  }

  async spent(scope: SpendScope, ids: readonly string[], day: string): Promise<Map<string, Spend>> {
    const rows: Array<TotalRow & { scope_id: string }> = await this.dataSource.query(
      `SELECT scope_id, tokens, cost_usd, running_ms FROM spend_ledger WHERE scope = $1 AND scope_id = ANY($2::varchar[]) AND day = $3::date`,
      [scope, ids, day],
    );
    return new Map(rows.map((row) => [row.scope_id, spendOf(row)]));
  }

  /**
   * The attempt's record, locked until the transaction ends: a second tracker of the same attempt
   * (a resumed run, another worker) waits here and then sees this one's total. The no-op update
   * creates the row when missing and locks it either way, in one statement.
   */
  private async lockRun(em: EntityManager, run: RunAttempt): Promise<RunTotal> {
    const [row]: TotalRow[] = await em.query(
      `INSERT INTO spend_runs (session_id, attempt) VALUES ($1, $2)
       ON CONFLICT (session_id, attempt) DO UPDATE SET attempt = spend_runs.attempt
       RETURNING tokens, cost_usd, running_ms`,
      [run.sessionId, run.attempt],
    );
    return totalOf(row!);
  }
}

function standingOf(row: StandingRow): LedgerStanding {
  return { scope: row.scope, scopeId: row.scope_id, day: row.day, spent: spendOf(row), budget: row.budget ?? null };
}

// RETURNING gives no order guarantee: the port promises the keys' order.
function orderedAs(keys: readonly LedgerKey[], rows: LedgerStanding[]): LedgerStanding[] {
  return keys.map((k) => rows.find((r) => r.scope === k.scope && r.scopeId === k.scopeId && r.day === k.day)!);
}

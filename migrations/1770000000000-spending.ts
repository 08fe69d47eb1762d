import { MigrationInterface, QueryRunner } from 'typeorm';

/** The spending ledger and the budgets it enforces (libs/spending). */
export class Spending1770000000000 implements MigrationInterface {
  name = 'Spending1770000000000';

  async up(q: QueryRunner): Promise<void> {
    // The run-time copy of the budgets of plans, agents and API keys (their owners call setLimit).
    await q.query(`
      CREATE TABLE spend_limits (
        scope varchar(16) NOT NULL CHECK (scope IN ('PLAN','AGENT','KEY')),
        scope_id varchar(100) NOT NULL,
        budget jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, scope_id)
      )`);
    // SESSION and PLAN rows are kept for all time (day 1970-01-01); AGENT and KEY rows one per UTC day.
    await q.query(`
      CREATE TABLE spend_ledger (
        scope varchar(16) NOT NULL CHECK (scope IN ('SESSION','PLAN','AGENT','KEY')),
        scope_id varchar(100) NOT NULL,
        day date NOT NULL,
        tokens bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
        cost_usd double precision NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
        running_ms bigint NOT NULL DEFAULT 0 CHECK (running_ms >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (scope, scope_id, day),
        CONSTRAINT ck_spend_ledger_all_time CHECK ((scope IN ('SESSION','PLAN')) = (day = DATE '1970-01-01'))
      )`);
    // A day's spending of every agent or key (reports, pruning old days).
    await q.query(`CREATE INDEX idx_spend_ledger_day ON spend_ledger (day, scope)`);
    // What each run attempt has recorded: a report of its cumulative usage adds only what is beyond it.
    await q.query(`
      CREATE TABLE spend_runs (
        session_id uuid NOT NULL,
        attempt integer NOT NULL CHECK (attempt >= 0),
        tokens bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
        cost_usd double precision NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
        running_ms bigint NOT NULL DEFAULT 0 CHECK (running_ms >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (session_id, attempt)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE spend_runs`);
    await q.query(`DROP INDEX idx_spend_ledger_day`);
    await q.query(`DROP TABLE spend_ledger`);
    await q.query(`DROP TABLE spend_limits`);
  }
}

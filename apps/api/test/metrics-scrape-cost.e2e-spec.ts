import { METRIC } from '@app/observability';
import { Client } from 'pg';
import { createTestApp, TestApp } from '../../../test/support/app';
import { onTestFileEnd } from '../../../test/support/test-file';
import { waitFor } from '../../../test/support/wait';

const SCRAPES = 300;
/** The deployment-wide gauges the API refreshes in the background. */
const AGGREGATES = [METRIC.sessions, METRIC.queueJobs, METRIC.plans, METRIC.planTasks];
/**
 * A PostgreSQL backend idle this long has published its transaction counts: an idle backend
 * flushes its pending statistics at most 10 s after it went idle (PGSTAT_IDLE_INTERVAL, PG 15+),
 * and one that exits flushes them on its way out.
 */
const FLUSHED_AFTER_IDLE_SECONDS = 11;

/**
 * Transaction counts of this file's database from pg_stat_database, read on a connection of the
 * test's own. Its own statements count too (one transaction each): it counts them, so a test
 * can tell them from everyone else's.
 */
class TransactionCounter {
  /** Statements this connection has sent: each is one transaction (autocommit). */
  statements = 0;

  private constructor(private readonly client: Client) {}

  static async open(config: TestApp['config']): Promise<TransactionCounter> {
    const { host, port, user, password, name } = config.database;
    const client = new Client({ host, port, user, password, database: name });
    await client.connect();
    onTestFileEnd(() => client.end());
    return new TransactionCounter(client);
  }

  /** xact_commit + xact_rollback of the database, this connection's statements so far included. */
  async committedAndRolledBack(): Promise<number> {
    // Publishes this connection's pending counts when it goes idle after this statement, not up to
    // 10 s later. PostgreSQL flushes a backend's transaction counts only along with some relation's
    // statistics: the scan of pg_class makes sure there are some.
    await this.query('SELECT pg_stat_force_next_flush(), (SELECT count(*) FROM pg_class)');
    await this.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await this.query<{ n: string }>(
      'SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    return Number(rows[0].n);
  }

  /**
   * Waits until every other backend of the database (the app's pool) is idle, and has been long
   * enough to have published what it did: then the counts are complete.
   */
  async othersSettled(): Promise<void> {
    await waitFor(
      async () =>
        (
          await this.query<{ pid: number; state: string | null; idle_seconds: number }>(
            `SELECT pid, state, extract(epoch FROM clock_timestamp() - state_change)::float8 AS idle_seconds
               FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND (state IS DISTINCT FROM 'idle' OR state_change > clock_timestamp() - make_interval(secs => $1))`,
            [FLUSHED_AFTER_IDLE_SECONDS],
          )
        ).rows,
      (busy) => busy.length === 0,
      { timeoutMs: 60_000, intervalMs: 500, what: `the app's connections idle for ${FLUSHED_AFTER_IDLE_SECONDS} s` },
    );
  }

  private query<R extends object = object>(sql: string, params?: unknown[]) {
    this.statements++;
    return this.client.query<R>(sql, params);
  }
}

/**
 * /metrics costs PostgreSQL nothing: its deployment-wide gauges come from the API's background
 * refresh (METRICS_REFRESH_SECONDS, an hour here so that none falls inside the measurement), not
 * from a query per scrape. Measured on the server, in pg_stat_database: every transaction of
 * this file's database counts, whichever connection, pool or process ran it.
 */
describe('/metrics without database work per scrape', () => {
  let t: TestApp;
  let counter: TransactionCounter;

  beforeAll(async () => {
    // The API alone: no worker, no plan scheduler, nothing else in the process that polls the database.
    t = await createTestApp({ withWorker: false, env: { METRICS_REFRESH_SECONDS: '3600' } });
    counter = await TransactionCounter.open(t.config);
  });
  afterAll(() => t?.close());

  it(`answers ${SCRAPES} scrapes from the background aggregates without one database transaction`, async () => {
    // The refresh at start has read every aggregate (the API refreshes; its age shows it).
    const first = await waitFor(
      async () => (await t.http.get('/metrics').expect(200)).text,
      (text) => AGGREGATES.every((metric) => text.includes(`${METRIC.metricsAggregatesAge}{metric="${metric}"}`)),
      { timeoutMs: 20_000, what: 'the first background refresh of the aggregates' },
    );
    expect(first).toMatch(new RegExp(`^${METRIC.sessions}\\{status="PENDING"\\} 0$`, 'm'));

    // The measurement sees the app's transactions: 20 API reads of the sessions show up.
    await counter.othersSettled();
    const beforeReads = await counter.committedAndRolledBack();
    let mine = counter.statements;
    for (let i = 0; i < 20; i++) await t.http.get('/api/v1/sessions').expect(200);
    await counter.othersSettled();
    const afterReads = await counter.committedAndRolledBack();
    expect(afterReads - beforeReads - (counter.statements - mine)).toBeGreaterThanOrEqual(20);

    // The measurement's own cost: each of its statements is one transaction, nothing else moves.
    mine = counter.statements;
    const idle = (await counter.committedAndRolledBack()) - afterReads;
    expect(idle).toBe(counter.statements - mine);
    expect(idle).toBeGreaterThan(0);

    // The scrapes: the database sees only the measuring connection's own statements.
    const before = await counter.committedAndRolledBack();
    mine = counter.statements;
    for (let i = 0; i < SCRAPES; i++) {
      const res = await t.http.get('/metrics').expect(200);
      if (i === SCRAPES - 1) expect(res.text).toContain(`${METRIC.sessions}{status="PENDING"} 0`);
    }
    await counter.othersSettled();
    const after = await counter.committedAndRolledBack();
    expect(after - before).toBe(counter.statements - mine);
  });
});

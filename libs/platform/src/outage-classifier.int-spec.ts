import { once } from 'node:events';
import axios from 'axios';
import Redis from 'ioredis';
import { DataSource, EntityManager } from 'typeorm';
import { openTestDataSource, testConfig } from '../../../test/support/database';
import { startPostgresServer, TestPostgresServer } from '../../../test/support/postgres-server';
import { waitFor } from '../../../test/support/wait';
import { startRedisServer, TestRedisServer } from '../../../test/support/redis-server';
import { outageOf } from './outage-classifier';

/** What the call threw (it must throw). */
async function errorOf(call: () => Promise<unknown>): Promise<unknown> {
  try {
    await call();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

/**
 * The classifier against the errors the drivers really throw: node-postgres and TypeORM on a
 * private PostgreSQL that this file terminates and stops, ioredis on a private Redis it stops
 * (the machine's shared servers are never touched).
 */
describe('outageOf, on real driver errors', () => {
  describe('PostgreSQL', () => {
    let pg: TestPostgresServer;
    let db: DataSource;
    let ports: { database: number; redis: number };
    beforeAll(async () => {
      pg = await startPostgresServer();
      db = await openTestDataSource(testConfig({ ...pg.env(), DB_NAME: 'postgres', DB_STATEMENT_TIMEOUT_MS: '300' }));
      ports = { database: pg.port, redis: 1 };
    });
    afterAll(async () => {
      await db?.destroy();
      await pg?.stop();
    });

    it('leaves the request\'s own errors alone: syntax, constraint, statement timeout', async () => {
      expect(outageOf(await errorOf(() => db.query('SELEC 1')), ports)).toBeNull();
      await db.query('CREATE TABLE once (id int PRIMARY KEY)');
      await db.query('INSERT INTO once VALUES (1)');
      expect(outageOf(await errorOf(() => db.query('INSERT INTO once VALUES (1)')), ports)).toBeNull();
      const slow = await errorOf(() => db.query('SELECT pg_sleep(2)'));
      expect(String(slow)).toMatch(/statement timeout/);
      expect(outageOf(slow, ports)).toBeNull();
    });

    /**
     * The error of a transaction's next query once the server terminated its connection (the
     * backend gone: a timeout makes pg_terminate_backend wait for that), after `before` ran.
     */
    async function queryAfterTermination(before: (em: EntityManager) => Promise<unknown> = async () => undefined): Promise<unknown> {
      let error: unknown;
      await db
        .transaction(async (em) => {
          const [{ pid }] = (await em.query('SELECT pg_backend_pid() AS pid')) as Array<{ pid: number }>;
          await db.query('SELECT pg_terminate_backend($1, 10000)', [pid]);
          await before(em);
          error = await errorOf(() => em.query('SELECT 1'));
        })
        .catch(() => undefined); // the transaction's connection is gone: its rollback fails too
      return error;
    }

    it('says the database is out of reach when the server terminates the connection', async () => {
      const terminated = await queryAfterTermination();
      expect(terminated).toBeDefined();
      // node-postgres's error, or (mostly) TypeORM's released runner (its connection's error event
      // came first, see below); the error's text rides along so that a miss shows which error was not recognised.
      expect(`${outageOf(terminated, ports)}: ${String(terminated)}`).toMatch(/^database: /);
    });

    it("says the database is out of reach when a transaction's connection died before its next query (TypeORM released its runner)", async () => {
      // The connection's error event (the server's FATAL, then the close) reaches TypeORM first.
      const released = await queryAfterTermination((em) =>
        waitFor(async () => em.queryRunner?.isReleased, Boolean, { timeoutMs: 10_000, intervalMs: 20, what: 'the runner to be released' }),
      );
      expect(String(released)).toMatch(/^QueryRunnerProviderAlreadyReleasedError: /);
      expect(outageOf(released, ports)).toBe('database');
    });

    it('says the database is out of reach while the server is stopped, by its port only', async () => {
      await pg.halt();
      try {
        // The pool's idle connections die first ('Connection terminated unexpectedly'), then connects are refused.
        const errors: unknown[] = [];
        for (let i = 0; i < 25 && (errors.at(-1) as { code?: string } | undefined)?.code !== 'ECONNREFUSED'; i++) {
          errors.push(await errorOf(() => db.query('SELECT 1')));
        }
        for (const err of errors) expect(outageOf(err, ports)).toBe('database');
        const refused = errors.at(-1);
        expect((refused as { code?: string }).code).toBe('ECONNREFUSED');
        expect(outageOf(refused, { database: pg.port + 1 })).toBeNull();
        // Not an HTTP client's refused connection, even to the same port.
        expect(outageOf(await errorOf(() => axios.get(`http://127.0.0.1:${pg.port}/`)), ports)).toBeNull();
      } finally {
        await pg.start();
      }
      expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    });
  });

  describe('Redis', () => {
    let redis: TestRedisServer;
    let client: Redis | undefined;
    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      client?.disconnect();
      await redis?.stop();
    });

    it('says Redis is out of reach when a command cannot be sent, and not for a wrong command', async () => {
      const closed = new Redis({ host: redis.host, port: redis.port });
      await closed.ping();
      closed.disconnect();
      await once(closed, 'end');
      expect(outageOf(await errorOf(() => closed.get('k')), { redis: redis.port })).toBe('redis');

      client = new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      client.on('error', () => undefined);
      await client.set('k', 'v');
      expect(outageOf(await errorOf(() => client!.incr('k')), { redis: redis.port })).toBeNull(); // not an integer
      await redis.stop();
      expect(outageOf(await errorOf(() => client!.get('k')), { redis: redis.port })).toBe('redis');
    });
  });
});

import { Client } from 'pg';
import { startPostgresServer } from './postgres-server';

/** The private PostgreSQL that fault tests stop and restart: it answers, migrates, goes down and comes back with its data. */
describe('startPostgresServer', () => {
  it('starts, migrates, halts, and restarts with its data kept', async () => {
    const pg = await startPostgresServer('pg_support_check');
    await pg.migrate();
    const query = async (sql: string) => {
      const client = new Client({ host: pg.host, port: pg.port, user: 'postgres', database: 'pg_support_check' });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    };
    const tables = await query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'sessions'`);
    expect(tables[0].n).toBe(1);
    await pg.halt();
    await expect(query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await pg.start();
    expect((await query(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'sessions'`))[0].n).toBe(1);
    await pg.restart(200, 'kill');
    expect((await query('SELECT 1 AS one'))[0].one).toBe(1);
    await pg.stop();
  }, 90_000);
});

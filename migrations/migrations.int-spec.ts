import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions, MIGRATIONS, runMigrations } from './index';

const FILES = readdirSync(__dirname)
  .filter((f) => /^\d{13}-[a-z0-9-]+\.ts$/.test(f))
  .sort();

describe('migrations', () => {
  it('lists every migration file in MIGRATIONS, oldest first', () => {
    expect(MIGRATIONS.map((m) => m.name.slice(-13))).toEqual(FILES.map((f) => f.slice(0, 13)));
  });

  // Frozen snapshots: a change to a domain class must never change what an old migration does.
  it.each(FILES)('%s imports nothing but typeorm', (file) => {
    const source = readFileSync(join(__dirname, file), 'utf8');
    const imported = [...source.matchAll(/(?:\bfrom|\bimport|\brequire\()\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    expect(imported.filter((name) => name !== 'typeorm')).toEqual([]);
  });

  describe('on a database of their own', () => {
    const config = AppConfig.with({ DB_NAME: `orchestrator_migrations_${process.pid}` });
    const names = MIGRATIONS.map((m) => m.name);

    afterAll(async () => {
      const { host, port, user, password, name } = config.database;
      const client = new Client({ host, port, user, password, database: 'postgres' });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => client.end());
    });

    it('migrates up, all the way down, and up again to the same schema', async () => {
      expect(await runMigrations(config)).toEqual(names);
      const dataSource = await new DataSource(dataSourceOptions(config)).initialize();
      try {
        const schema = await describeSchema(dataSource);
        expect(await dataSource.query('SELECT name FROM agents ORDER BY id')).toEqual(
          ['architect', 'implementer', 'reviewer', 'debugger'].map((name) => ({ name })),
        );

        for (const _ of names) await dataSource.undoLastMigration({ transaction: 'each' });
        expect(await describeSchema(dataSource)).toEqual({ tables: ['migrations'], columns: [], indexes: [], constraints: [], functions: [] });

        expect(await runMigrations(config)).toEqual(names);
        expect(await describeSchema(dataSource)).toEqual(schema);
      } finally {
        await dataSource.destroy();
      }
    }, 60_000);
  });
});

/** The public schema in a stable order; the migrations table itself is left out but for its name. */
async function describeSchema(dataSource: DataSource) {
  const list = async (sql: string) => ((await dataSource.query(sql)) as { v: string }[]).map((r) => r.v);
  return {
    tables: await list(`SELECT table_name AS v FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`),
    columns: await list(
      `SELECT concat_ws(' ', table_name, column_name, data_type, is_nullable, column_default) AS v FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> 'migrations' ORDER BY 1`,
    ),
    indexes: await list(`SELECT indexdef AS v FROM pg_indexes WHERE schemaname = 'public' AND tablename <> 'migrations' ORDER BY 1`),
    constraints: await list(
      `SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS v FROM pg_constraint
       WHERE connamespace = 'public'::regnamespace AND conrelid <> 'migrations'::regclass ORDER BY 1`,
    ),
    functions: await list(`SELECT p.proname AS v FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1`),
  };
}

import 'reflect-metadata';
import { AGENT_ENTITIES } from '@app/agent';
import { APPROVAL_ENTITIES } from '@app/approval';
import { AUTH_ENTITIES } from '@app/auth';
import { AppConfig } from '@app/config';
import { postgresConnectionOptions } from '@app/platform';
import { SESSION_ENTITIES } from '@app/session';
import { TASK_ENTITIES } from '@app/task';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from './all-migrations';

/** Every context's entities, from their public entries (the application loads them per module instead). */
export const ENTITIES = [...SESSION_ENTITIES, ...AGENT_ENTITIES, ...TASK_ENTITIES, ...AUTH_ENTITIES, ...APPROVAL_ENTITIES];

/** Arbitrary constant shared by every process of this app. */
const MIGRATION_LOCK_KEY = 7_264_001;

/** The whole database, migrations included: for the migration CLI, `npm run migrate` and the tests. */
export function dataSourceOptions(config: AppConfig): DataSourceOptions {
  return {
    ...postgresConnectionOptions(config),
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTransactionMode: 'each',
  };
}

/** Creates the configured database when it does not exist yet. */
export async function ensureDatabase(config: AppConfig): Promise<void> {
  const { host, port, user, password, name } = config.database;
  const client = new Client({ host, port, user, password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      // The name is validated as a plain identifier by the config schema.
      await client.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

/** Creates the database if needed and applies pending migrations; returns their names. */
export async function runMigrations(config: AppConfig): Promise<string[]> {
  await ensureDatabase(config);
  const options = dataSourceOptions(config) as DataSourceOptions & { extra?: Record<string, unknown> };
  // A migration may rightly run long (a big table) or wait for another process's: no statement timeout.
  const dataSource = new DataSource({ ...options, extra: { ...options.extra, statement_timeout: 0, query_timeout: undefined } });
  await dataSource.initialize();
  try {
    // Several processes may start at once: one applies the migrations, the others wait.
    return await dataSource.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    });
  } finally {
    await dataSource.destroy();
  }
}

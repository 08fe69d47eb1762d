import { hostname } from 'node:os';
import { relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '@app/config';
import { Client } from 'pg';
import { testDatabaseBase, testDatabaseName } from './test-file';

/**
 * Creating and dropping the test files' databases (no app code here: file-setup.ts loads this
 * before every integration and e2e file).
 */

/** Migrated by the global setup (database.ts); cloned, never used. Nobody may stay connected to it, or cloning fails. */
export function templateDatabaseName(): string {
  return `${testDatabaseBase()}_template`;
}

/** What a file's database says about itself (its COMMENT), to find the ones a killed run left. */
interface FileDatabaseLabel {
  host: string;
  pid: number;
  createdAt: string;
  file?: string;
}

const OBJECT_IN_USE = '55006'; // "source database ... is being accessed by other users"
const CLONE_PATIENCE_MS = 60_000;

/**
 * Clones the template into this file's database. Several jest workers may clone at once, and
 * another run's global setup may be migrating the template: PostgreSQL refuses a clone while
 * anyone is connected to the template, so that is retried.
 */
export async function createFileDatabase(testPath?: string): Promise<string> {
  const name = testDatabaseName();
  const label: FileDatabaseLabel = {
    host: hostname(),
    pid: process.pid,
    createdAt: new Date().toISOString(),
    file: testPath && relative(process.cwd(), testPath),
  };
  await withAdmin(async (admin) => {
    const deadline = Date.now() + CLONE_PATIENCE_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${templateDatabaseName()}"`);
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== OBJECT_IN_USE || Date.now() > deadline) throw err;
        await sleep(Math.min(100 * attempt, 1_000));
      }
    }
    await admin.query(`COMMENT ON DATABASE "${name}" IS ${quote(JSON.stringify(label))}`);
  });
  return name;
}

/** Drops this file's database, closing whatever is still connected to it. */
export async function dropFileDatabase(): Promise<void> {
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${testDatabaseName()}" WITH (FORCE)`));
}

/**
 * Drops the file databases that a killed run left: made on this machine by a process that is
 * gone, or made anywhere more than a day ago. Without FORCE: a database still in use stays.
 * Returns the names dropped.
 */
export async function dropStaleFileDatabases(): Promise<string[]> {
  return withAdmin(async (admin) => {
    const { rows } = await admin.query<{ name: string; comment: string | null }>(
      `SELECT datname AS name, shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname LIKE $1`,
      [`${testDatabaseBase().replace(/_/g, '\\_')}\\_%`],
    );
    const dropped: string[] = [];
    for (const { name, comment } of rows) {
      if (!new RegExp(`^${testDatabaseBase()}_\\d+_[0-9a-f]{6}$`).test(name) || !isStale(comment)) continue;
      try {
        await admin.query(`DROP DATABASE IF EXISTS "${name}"`);
        dropped.push(name);
      } catch {
        // in use after all
      }
    }
    return dropped;
  });
}

function isStale(comment: string | null): boolean {
  let label: FileDatabaseLabel;
  try {
    label = JSON.parse(comment ?? '') as FileDatabaseLabel;
  } catch {
    return false; // not one of ours
  }
  const ageMs = Date.now() - Date.parse(label.createdAt);
  if (ageMs > 24 * 3600_000) return true;
  return label.host === hostname() && !processAlive(label.pid);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** A connection to the maintenance database, as the app's settings (DB_HOST, DB_PORT, DB_USER, DB_PASSWORD) say. */
async function withAdmin<T>(work: (admin: Client) => Promise<T>): Promise<T> {
  const { host, port, user, password } = AppConfig.fromEnvironment().database;
  const admin = new Client({ host, port, user, password, database: 'postgres' });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}

function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

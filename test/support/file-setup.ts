import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '@app/config';
import Redis from 'ioredis';
import { createFileDatabase, dropFileDatabase } from './file-database';
import { removeTempWorkspaces } from './temp-workspace';
import { runTestFileCleanups, testFileEnvironment, testQueuePrefix, testWorktreesDir } from './test-file';

/**
 * Loaded before every integration and e2e file (jest `setupFilesAfterEnv`): the file gets a
 * database of its own, cloned from the migrated template, and a queue prefix of its own, and
 * loses both when it ends. The variables are also set in the file's process.env (jest gives each
 * file its own copy), so that what reads the environment, and child processes, use them too.
 */
Object.assign(process.env, testFileEnvironment());

// The project's test timeout (jest.config.ts `globals`), for tests and hooks alike.
const projectTimeout = (globalThis as { testTimeoutMs?: number }).testTimeoutMs;
if (projectTimeout) jest.setTimeout(projectTimeout);

/** How long the file's leftovers (apps, processes) get to close before the database goes anyway. */
const CLEANUP_PATIENCE_MS = 30_000;

// Cloning waits (up to a minute) while another run's global setup migrates the template.
beforeAll(() => createFileDatabase(expect.getState().testPath), 90_000);

// Runs after the afterAll hooks of the file's describe blocks (a root-level afterAll of the file
// itself would run after this one: whatever it closes is closed here already, and its close is a no-op).
afterAll(async () => {
  const patience = new AbortController();
  try {
    // apps, data sources, worker processes and Redis servers the file left open
    const timedOut = sleep(CLEANUP_PATIENCE_MS, false, { signal: patience.signal }).catch(() => true);
    const closed = await Promise.race([runTestFileCleanups().then(() => true), timedOut]);
    if (!closed) console.warn(`The test file's apps and processes did not close within ${CLEANUP_PATIENCE_MS} ms`);
  } finally {
    patience.abort();
    removeTempWorkspaces();
    rmSync(testWorktreesDir(), { recursive: true, force: true });
    await dropFileDatabase();
    await deleteRedisKeys(testQueuePrefix());
  }
}, CLEANUP_PATIENCE_MS + 30_000);

/** The file's keys on the machine's Redis (queues, locks, heartbeats); nothing if Redis is unreachable. */
async function deleteRedisKeys(prefix: string): Promise<void> {
  const { host, port, password } = AppConfig.fromEnvironment().redis;
  const redis = new Redis({ host, port, password, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const stream = redis.scanStream({ match: `${prefix}:*`, count: 1000 });
    for await (const keys of stream as AsyncIterable<string[]>) if (keys.length) await redis.unlink(...keys);
  } catch {
    // left for Redis to keep: harmless, the prefix is never used again
  } finally {
    redis.disconnect();
  }
}

import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What belongs to the test file being run. Jest gives every test file its own global object
 * (and module registry), so state kept on globalThis lives exactly as long as the file: the
 * names below are made once per file, whatever the number of apps or workers it starts.
 */
interface TestFileState {
  /** `<pid>_<6 hex>`: the jest process running the file, and a random part. */
  id: string;
  cleanups: Set<Cleanup>;
}

type Cleanup = () => unknown;

const KEY = Symbol.for('orchestrator.tests.file');
type WithState = typeof globalThis & { [KEY]?: TestFileState };

function state(): TestFileState {
  const global = globalThis as WithState;
  global[KEY] ??= { id: `${process.pid}_${randomBytes(3).toString('hex')}`, cleanups: new Set() };
  return global[KEY];
}

/** Base name of the test databases (DB_NAME_TEST, default orchestrator_test); never the development one. */
export function testDatabaseBase(): string {
  return process.env.DB_NAME_TEST || 'orchestrator_test';
}

/** The database of this test file, cloned from the template (see database.ts). */
export function testDatabaseName(): string {
  return `${testDatabaseBase()}_${state().id}`;
}

/** The QUEUE_PREFIX of this test file: its queues, locks, channels and Redis keys. */
export function testQueuePrefix(): string {
  return `test-${state().id.replace('_', '-')}`;
}

/** DB_NAME, QUEUE_PREFIX and WORKTREES_DIR of this file, for an app, a worker or a child process. */
export function testFileEnvironment(): { DB_NAME: string; QUEUE_PREFIX: string; WORKTREES_DIR: string } {
  return { DB_NAME: testDatabaseName(), QUEUE_PREFIX: testQueuePrefix(), WORKTREES_DIR: testWorktreesDir() };
}

/** The WORKTREES_DIR of this test file (under the system's temporary directory, the tests' workspace root). */
export function testWorktreesDir(): string {
  return join(tmpdir(), `orchestrator-worktrees-${state().id}`);
}

/**
 * Runs `cleanup` when the file ends (after its own afterAll hooks, also when a test failed),
 * unless the returned function was called first. For what a test might leave running: apps,
 * connections, child processes.
 */
export function onTestFileEnd(cleanup: Cleanup): () => void {
  const { cleanups } = state();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/** Runs the pending cleanups, the last registered first; throws the first error after running all. */
export async function runTestFileCleanups(): Promise<void> {
  const { cleanups } = state();
  const pending = [...cleanups].reverse();
  cleanups.clear();
  const errors: unknown[] = [];
  for (const cleanup of pending) {
    try {
      await cleanup();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length) throw errors[0];
}

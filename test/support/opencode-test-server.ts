import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Loaded by the global setup, where register-path-aliases.ts resolves @app/* (jest's moduleNameMapper does not).
import { ManagedOpencodeServer } from '@app/opencode';

/** Held on globalThis: the integration and e2e projects both run the global setup in one jest process. */
const SHARED = Symbol.for('orchestrator.tests.opencode-server');

interface SharedOpencode {
  started: Promise<ManagedOpencodeServer>;
  dataDir: string;
}

type WithShared = typeof globalThis & { [SHARED]?: SharedOpencode };

/**
 * Starts ONE `opencode serve` on the rehearsal provider for the whole jest run and hands
 * it to the test workers through the environment (OPENCODE_HOST, OPENCODE_PORT,
 * OPENCODE_PASSWORD, OPENCODE_MODEL, REHEARSAL_PROVIDER_URL). Sandboxed like the app's own
 * server (bubblewrap when installed), with the test workspaces' root (os.tmpdir(), the default
 * WORKSPACE_ROOTS) writable and this repository read-only.
 */
export async function startSharedOpencodeServer(): Promise<void> {
  const shared = globalThis as WithShared;
  if (!shared[SHARED]) {
    const dataDir = mkdtempSync(join(tmpdir(), 'orchestrator-tests-opencode-'));
    const server = new ManagedOpencodeServer({
      dataDir,
      parentEnv: process.env,
      sandbox: 'auto',
      writableRoots: [tmpdir()],
      protectedDirs: [join(__dirname, '..', '..')],
      password: randomBytes(12).toString('hex'),
      stopGraceMs: 1_000,
      logger: {
        log: () => undefined,
        warn: (message) => !message.startsWith('No real model') && console.warn(`[opencode test server] ${message}`),
        error: (message) => console.error(`[opencode test server] ${message}`),
      },
    });
    shared[SHARED] = { started: server.start().then(() => server), dataDir };
  }
  const server = await shared[SHARED].started;
  const { baseUrl, password } = server.endpoint();
  const url = new URL(baseUrl);
  process.env.OPENCODE_HOST = url.hostname;
  process.env.OPENCODE_PORT = url.port;
  process.env.OPENCODE_PASSWORD = password ?? '';
  process.env.OPENCODE_MODEL = server.defaultModel;
  process.env.REHEARSAL_PROVIDER_URL = server.rehearsal?.baseUrl ?? '';
}

export async function stopSharedOpencodeServer(): Promise<void> {
  const shared = globalThis as WithShared;
  const current = shared[SHARED];
  if (!current) return;
  shared[SHARED] = undefined;
  const server = await current.started.catch(() => undefined);
  await server?.stop();
  rmSync(current.dataDir, { recursive: true, force: true });
}

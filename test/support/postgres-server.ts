import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppConfig } from '@app/config';
import { runMigrations } from '@app/migrations';
// The server dies when its stdin closes (stop(), or the test process dying), as a private Redis does.
import { freePort, WATCHDOG } from './redis-server';
import { onTestFileEnd } from './test-file';

/** The PostgreSQL binaries (PG_BIN_DIR to use others): the newest installed major version. */
function pgBinDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries under ${root} (set PG_BIN_DIR)`);
  return join(root, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root: its files and process belong to this user then. */
const PG_OS_USER = 'postgres';
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** Runs a PostgreSQL binary, as PG_OS_USER when this process is root. */
function pgCommand(binary: string, args: string[]): [string, string[]] {
  const path = join(pgBinDir(), binary);
  return asRoot ? ['runuser', ['-u', PG_OS_USER, '--', path, ...args]] : [path, args];
}


/** One initdb per process (a few seconds), copied for each server. */
let initialised: string | undefined;
function initialisedDataDir(): string {
  if (initialised && existsSync(initialised)) return initialised;
  const dir = mkdtempSync(join(tmpdir(), 'pg-template-'));
  if (asRoot) execFileSync('chown', [PG_OS_USER, dir]);
  const [cmd, args] = pgCommand('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  execFileSync(cmd, args, { stdio: 'pipe' });
  initialised = join(dir, 'data');
  return initialised;
}

/**
 * A private PostgreSQL for a fault test or the soak run that stops or restarts it, so that the
 * machine's shared server (and every other test on it) never goes down. Trust auth, user
 * postgres, fsync off; its data directory is kept across restarts and removed by stop().
 */
export interface TestPostgresServer {
  readonly host: string;
  readonly port: number;
  /** DB_HOST, DB_PORT, DB_USER, DB_PASSWORD and DB_NAME for an app or worker pointed at it. */
  env(): Record<string, string>;
  /** Creates (if needed) and migrates `database` on this server (the default database when omitted). */
  migrate(database?: string): Promise<void>;
  /** Stops the server (immediate shutdown, `mode` 'kill' for a SIGKILL crash), waits downForMs, starts it again. */
  restart(downForMs?: number, mode?: 'fast' | 'kill'): Promise<void>;
  /** Stops the server and leaves it down (until start()). */
  halt(mode?: 'fast' | 'kill'): Promise<void>;
  /** Starts it again after halt(); a no-op while it runs. */
  start(): Promise<void>;
  /** Stops the server and removes its files; also done when the test file ends. */
  stop(): Promise<void>;
}

/** Starts a PostgreSQL on a free port of 127.0.0.1 with database `database` and waits until it answers. */
export async function startPostgresServer(database = 'orchestrator'): Promise<TestPostgresServer> {
  const host = '127.0.0.1';
  const port = await freePort(host);
  const root = mkdtempSync(join(tmpdir(), 'pg-test-'));
  const dataDir = join(root, 'data');
  cpSync(initialisedDataDir(), dataDir, { recursive: true });
  chmodSync(dataDir, 0o700);
  if (asRoot) execFileSync('chown', ['-R', PG_OS_USER, root]);
  let child: ChildProcess | undefined;
  let output = '';

  const halt = async (mode: 'fast' | 'kill' = 'fast') => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    if (mode === 'fast') {
      const [cmd, args] = pgCommand('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', '-t', '30', 'stop']);
      try {
        execFileSync(cmd, args, { stdio: 'pipe' });
      } catch {
        // Not running any more: the watchdog below ends whatever is left.
      }
    }
    running.stdin?.end();
    await exited;
  };
  const start = async () => {
    if (child) return;
    output = '';
    const [cmd, args] = pgCommand('postgres', [
      '-D', dataDir, '-p', String(port), '-h', host, '-k', root,
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
    ]);
    const started = spawn('sh', ['-c', WATCHDOG, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child = started;
    started.stdin?.on('error', () => undefined);
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    for (let i = 0; i < 300; i++) {
      if (started.exitCode !== null) break;
      if (ready()) return;
      await sleep(100);
    }
    await halt('kill');
    throw new Error(`postgres on ${host}:${port} did not answer:\n${output}`);
  };
  const ready = () => {
    try {
      execFileSync(join(pgBinDir(), 'pg_isready'), ['-h', host, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-t', '1'], { stdio: 'pipe' });
      return true;
    } catch {
      return false;
    }
  };
  const env = (name = database) => ({ DB_HOST: host, DB_PORT: String(port), DB_USER: 'postgres', DB_PASSWORD: '', DB_NAME: name });

  let removed = false;
  const stop = async () => {
    await halt('kill');
    if (!removed) rmSync(root, { recursive: true, force: true });
    removed = true;
  };
  const forget = onTestFileEnd(stop);
  await start();
  return {
    host,
    port,
    env: () => env(),
    migrate: async (name = database) => {
      await runMigrations(AppConfig.with(env(name)));
    },
    restart: async (downForMs = 500, mode = 'fast') => {
      await halt(mode);
      await sleep(downForMs);
      await start();
    },
    halt,
    start,
    stop: async () => {
      forget();
      await stop();
    },
  };
}

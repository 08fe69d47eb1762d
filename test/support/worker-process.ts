import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { onTestFileEnd, testFileEnvironment } from './test-file';

const ROOT = join(__dirname, '..', '..');

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the worker logged that it runs. */
  ready: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts apps/worker/src/main.ts as a separate OS process (so that a test can SIGKILL it), on
 * this file's database and queue prefix and the shared test OpenCode server (from the
 * environment); `env` adds or overrides variables. Killed when the file ends, if still running.
 */
export function startWorkerProcess(env: Record<string, string> = {}): WorkerProcess {
  return startAppProcess('apps/worker/src/main.ts', 'Session worker running', env);
}

/**
 * Starts apps/api/src/main.ts (the API alone, migrations first) as a separate OS process, like
 * startWorkerProcess; ready once it logged where it listens. PORT=0 (a free port) unless `env`
 * says otherwise: the address is in `url()`.
 */
export function startApiProcess(env: Record<string, string> = {}): WorkerProcess & { url: () => string } {
  const started = startAppProcess('apps/api/src/main.ts', 'API listening on', { PORT: '0', ...env });
  const url = () => /API listening on (http:\/\/[^\s(]+)/.exec(started.output())?.[1] ?? '';
  return { ...started, url };
}

/** One entry point of the application as a child process, ready once its log shows `readyText`. */
function startAppProcess(entry: string, readyText: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', '-r', join(__dirname, 'exit-with-parent.ts'), join(ROOT, entry)],
    {
      cwd: ROOT,
      env: { ...process.env, ...testFileEnvironment(), TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_SWC: 'true', ...env },
      stdio: ['pipe', 'pipe', 'pipe'], // stdin: see exit-with-parent.ts
    },
  );
  child.stdin?.on('error', () => undefined);
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes(readyText)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code} before it was ready:\n${out}`)));
  });
  const kill = (signal: NodeJS.Signals = 'SIGKILL') =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  ready.catch(() => undefined); // a test that never awaits it still sees the exit through kill()
  onTestFileEnd(() => kill());
  return { child, output: () => out, ready, kill };
}

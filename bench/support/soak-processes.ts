import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, copyFileSync, createWriteStream, existsSync, mkdirSync, symlinkSync, WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The repository this benchmark belongs to (its node_modules, its tsconfig). */
export const REPO_ROOT = join(__dirname, '..', '..');

/**
 * Builds the app as `npm run build` does (tsc, then tsc-alias) into `<dir>/dist`, a snapshot of
 * its own: the soak's processes run `node <dir>/dist/apps/.../main.js` as deployed, and a
 * replacement worker started at minute 9 runs the same code as the first one even while the
 * sources (or the shared dist/) change meanwhile. `<dir>` gets the package.json (the app finds its
 * own directory by it) and a link to the repository's node_modules. Returns `<dir>`.
 * A type error does not stop tsc from emitting; it is reported, and the run goes on.
 */
export async function buildSnapshot(dir: string, log: (message: string) => void): Promise<string> {
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const outDir = join(dir, 'dist');
  const tsc = await runNode([join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir]);
  if (tsc.code !== 0) log(`WARNING: tsc reported errors (the sources are being edited?); built anyway:\n${tsc.output.split('\n').slice(0, 10).join('\n')}`);
  const alias = await runNode([join(REPO_ROOT, 'node_modules/tsc-alias/dist/bin/index.js'), '-p', 'tsconfig.build.json', '--outDir', outDir]);
  if (alias.code !== 0) throw new Error(`tsc-alias failed:\n${alias.output}`);
  for (const main of [API_MAIN, WORKER_MAIN]) {
    if (!existsSync(join(dir, main))) throw new Error(`the build made no ${main}`);
  }
  return dir;
}

export const API_MAIN = 'dist/apps/api/src/main.js';
export const WORKER_MAIN = 'dist/apps/worker/src/main.js';

function runNode(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

/** util-linux setpriv, for the parent-death signal; undefined when not installed. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
});

export interface AppProcessOptions {
  /** `api`, `worker-3`: names the process in the log and the report. */
  name: string;
  /** The snapshot directory (cwd) and the script in it. */
  cwd: string;
  script: string;
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** A log line that says the process is up. */
  readyLine?: string;
}

/** How a process of the soak ended. */
export interface ProcessExit {
  name: string;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
  /** The soak asked for it (a fault, the end of the run). */
  expected: boolean;
}

/**
 * One API or worker process, as deployed (`node dist/.../main.js`), its output in a log file
 * (JSON lines). Started under `setpriv --pdeathsig KILL` when available: the kernel kills it when
 * the soak dies, however the soak dies, so a killed soak leaves no process behind.
 */
export class AppProcess {
  readonly child: ChildProcess;
  readonly startedAt = Date.now();
  readonly exited: Promise<ProcessExit>;
  /** Set before the soak signals it: its exit is then no surprise. */
  expectExit = false;
  /** error and fatal lines written (pino levels 50 and 60), and the last few distinct messages. */
  readonly errors = { count: 0, samples: new Map<string, number>() };
  private readonly log: WriteStream;
  private readyResolve?: () => void;
  private tail = '';
  private ready = false;

  constructor(readonly options: AppProcessOptions) {
    const argv = [process.execPath, join(options.cwd, options.script)];
    const [command, ...args] = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...argv] : argv;
    this.log = createWriteStream(options.logFile, { flags: 'a' });
    this.child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.on('error', (err) => this.log.write(`spawn error: ${err.message}\n`));
    const onData = (chunk: Buffer) => {
      this.log.write(chunk);
      this.scan(chunk.toString());
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.log.end();
        resolve({ name: this.name, pid: this.pid, code, signal, at: Date.now(), expected: this.expectExit });
      }),
    );
  }

  get name(): string {
    return this.options.name;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves once `readyLine` was logged, or `probe` answers true; rejects when the process exits first or after timeoutMs. */
  async waitReady(timeoutMs: number, probe?: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const logged = new Promise<void>((resolve) => (this.ready ? resolve() : (this.readyResolve = resolve)));
    const exited = this.exited.then((e) => Promise.reject(new Error(`${this.name} exited (code ${e.code}, signal ${e.signal}) before it was ready; see ${this.options.logFile}`)));
    exited.catch(() => undefined);
    const probed = (async () => {
      if (!probe) return new Promise<void>(() => undefined);
      while (Date.now() < deadline) {
        if (!this.alive) return new Promise<void>(() => undefined);
        if (await probe().catch(() => false)) return;
        await sleep(200);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${this.name} was not ready within ${timeoutMs / 1000} s; see ${this.options.logFile}`)), timeoutMs)));
    try {
      await Promise.race([logged, probed, exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `signal` (the exit is then expected). */
  signal(signal: NodeJS.Signals): void {
    this.expectExit = true;
    if (this.alive) this.child.kill(signal);
  }

  /** Sends `signal`, waits up to waitMs for the exit, then SIGKILL; whether it exited before that. */
  async stop(signal: NodeJS.Signals = 'SIGKILL', waitMs = 10_000): Promise<boolean> {
    if (!this.alive) return true;
    this.signal(signal);
    const inTime = await Promise.race([this.exited.then(() => true), sleep(waitMs).then(() => false)]);
    if (!inTime) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return inTime;
  }

  private scan(text: string): void {
    const lines = (this.tail + text).split('\n');
    this.tail = lines.pop() ?? '';
    for (const line of lines) {
      if (!this.ready && this.options.readyLine && line.includes(this.options.readyLine)) {
        this.ready = true;
        this.readyResolve?.();
      }
      const level = /"level":(\d+)/.exec(line);
      if (!level || Number(level[1]) < 50) continue;
      this.errors.count++;
      const msg = (/"msg":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1] ?? line).replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>').slice(0, 160);
      this.errors.samples.set(msg, (this.errors.samples.get(msg) ?? 0) + 1);
    }
  }
}

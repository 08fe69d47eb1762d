import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import {
  accessSync,
  constants,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  WriteStream,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { OpencodeHttpClient } from '../client/opencode-http-client';
import type { OpencodeEndpoint, OpencodeEndpointSource } from '../opencode-endpoint';
import { RehearsalProvider, RehearsalProviderOptions } from '../rehearsal/rehearsal-provider';
import { findFreePort, isPortFree } from './free-port';
import { resolveOpencodeBinary } from './opencode-binary';
import { isProcessAlive } from './process-tree';
import {
  bwrapArguments,
  chooseSandbox,
  findOnPath,
  OpencodeSandboxMode,
  parentDeathArguments,
  parentDeathProbeArguments,
  probeArguments,
  SandboxLayout,
} from './opencode-sandbox';
import {
  buildOpencodeConfig,
  buildOpencodeEnvironment,
  OpencodeServerDirectories,
  referencedPathsOf,
  REHEARSAL_MODEL,
  serverDirectories,
} from './opencode-server-environment';
import { errorMessage } from '@app/shared';

export interface ManagedOpencodeServerOptions {
  /** Root of the server's isolated HOME, XDG directories, log and pid file. */
  dataDir: string;
  /** "provider/model"; undefined: the offline rehearsal provider, started by this server. */
  model?: string;
  /** Options of the rehearsal provider this server starts when no model is configured (e.g. a capacity cap). */
  rehearsal?: RehearsalProviderOptions;
  /** OpenCode's per-step filesystem snapshots (config `snapshot`); default off. */
  snapshots?: boolean;
  /** Sets OPENCODE_SERVER_PASSWORD: every request then needs Basic auth. */
  password?: string;
  /** 0 or undefined: a free port. */
  port?: number;
  hostname?: string;
  binaryPath?: string;
  /**
   * Environment the server inherits from (filtered, see opencode-server-environment.ts): where
   * provider credentials come from. The app passes AppConfig.processEnvironment; none: nothing.
   */
  parentEnv?: NodeJS.ProcessEnv;
  /** OPENCODE_PASS_ENV: more variables to pass from parentEnv (never the orchestrator's own). */
  passEnv?: readonly string[];
  /**
   * OS sandbox (see opencode-sandbox.ts). auto (default): bubblewrap when `bwrap` is on
   * parentEnv's PATH; bwrap: refuse to start without it; none: no sandbox (logged as a warning).
   */
  sandbox?: OpencodeSandboxMode;
  /** Writable in the sandbox besides the data dir: the workspace roots (realpath'd at start; missing ones skipped). */
  writableRoots?: readonly string[];
  /** Read-only in the sandbox even inside a writable root, their .env files hidden: the orchestrator's own directory. */
  protectedDirs?: readonly string[];
  startupTimeoutMs?: number;
  healthIntervalMs?: number;
  healthTimeoutMs?: number;
  /** Consecutive failed health checks after which the server is restarted. */
  unhealthyAfterFailures?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  logger?: ManagedServerLogger;
}

export interface ManagedServerLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}

export interface ManagedServerRestart {
  restarts: number;
  reason: string;
}

interface PidFile {
  pid: number;
  ownerPid: number;
  port: number;
}

const OUTPUT_TAIL_LINES = 40;
const MAX_RESTART_DELAY_MS = 30_000;
/** A server that stayed up this long has recovered: back-off starts again from the beginning. */
const STABLE_AFTER_MS = 60_000;

/**
 * Starts and supervises one local `opencode serve` for this process: isolated directories,
 * unattended config, health checks, restarts with back-off, and no orphan left behind
 * (its process group is killed on stop and on process exit; it dies with this process even
 * when this one is SIGKILLed: bwrap's --die-with-parent, or setpriv's parent-death signal
 * without the sandbox; a leftover the kernel could not take down is killed on the next start).
 *
 * Events: 'exited' (reason string: the process died unexpectedly, a restart follows), 'restarted'
 * (ManagedServerRestart), 'unhealthy' (reason string).
 */
export class ManagedOpencodeServer extends EventEmitter implements OpencodeEndpointSource {
  readonly defaultModel: string;
  private readonly options: Required<
    Omit<ManagedOpencodeServerOptions, 'model' | 'password' | 'port' | 'binaryPath' | 'logger' | 'snapshots' | 'rehearsal'>
  > &
    Pick<ManagedOpencodeServerOptions, 'password' | 'binaryPath'>;
  /** Set when the server runs in a bubblewrap sandbox. */
  private sandboxed?: { bwrap: string; layout: SandboxLayout };
  /** Set when the unsandboxed server runs under setpriv's parent-death signal. */
  private setpriv?: string;
  private readonly logger: ManagedServerLogger;
  private readonly health: OpencodeHttpClient;
  private provider?: RehearsalProvider;
  private child?: ChildProcess;
  private port = 0;
  private restartCount = 0;
  /** Restarts since the server last stayed up for STABLE_AFTER_MS: drives the back-off. */
  private restartStreak = 0;
  private healthFailures = 0;
  private healthTimer?: NodeJS.Timeout;
  private restartTimer?: NodeJS.Timeout;
  private healthCheckInFlight = false;
  private restarting = false;
  private running = false;
  private lastStartAt = 0;
  private readonly outputTail: string[] = [];
  private logFile?: WriteStream;
  private spawnArgs?: { binary: string; env: NodeJS.ProcessEnv; cwd: string };
  private ownsPidFile = false;

  constructor(private readonly config: ManagedOpencodeServerOptions) {
    super();
    this.defaultModel = config.model ?? REHEARSAL_MODEL;
    this.logger = config.logger ?? new Logger(ManagedOpencodeServer.name);
    this.options = {
      dataDir: config.dataDir,
      hostname: config.hostname ?? '127.0.0.1',
      parentEnv: config.parentEnv ?? {},
      passEnv: config.passEnv ?? [],
      sandbox: config.sandbox ?? 'auto',
      writableRoots: config.writableRoots ?? [],
      protectedDirs: config.protectedDirs ?? [],
      startupTimeoutMs: config.startupTimeoutMs ?? 30_000,
      // A server busy with 25 turns on 2 cores can take seconds to answer; a restart kills every
      // running turn. So only a server silent for about a minute is declared hung.
      healthIntervalMs: config.healthIntervalMs ?? 10_000,
      healthTimeoutMs: config.healthTimeoutMs ?? 10_000,
      unhealthyAfterFailures: config.unhealthyAfterFailures ?? 6,
      stopGraceMs: config.stopGraceMs ?? 3_000,
      password: config.password,
      binaryPath: config.binaryPath,
    };
    this.health = new OpencodeHttpClient(this, { healthTimeoutMs: this.options.healthTimeoutMs });
  }

  endpoint(): OpencodeEndpoint {
    return { baseUrl: `http://${this.options.hostname}:${this.port}`, password: this.options.password };
  }

  get restarts(): number {
    return this.restartCount;
  }

  /** The supervised process: `bwrap` when sandboxed (its process group holds the server and its tools). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the running server is in a bubblewrap sandbox. */
  get isSandboxed(): boolean {
    return this.sandboxed !== undefined;
  }

  /** Whether the kernel kills the server when this process dies, however it dies (bwrap's --die-with-parent, or setpriv). */
  get diesWithThisProcess(): boolean {
    return this.sandboxed !== undefined || this.setpriv !== undefined;
  }

  /** The rehearsal provider this server started (no real model configured), if any. */
  get rehearsal(): RehearsalProvider | undefined {
    return this.provider;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const binary = this.options.binaryPath ?? resolveOpencodeBinary();
    // Before anything starts: OPENCODE_SANDBOX=bwrap without a working bubblewrap refuses to start.
    const found = this.options.sandbox === 'none' ? undefined : findOnPath('bwrap', this.options.parentEnv.PATH, isExecutableFile);
    const { bwrap, reason } = chooseSandbox(this.options.sandbox, found, found ? probeBwrap(found, this.options.parentEnv.PATH) : undefined);
    mkdirSync(this.options.dataDir, { recursive: true });
    this.killLeftoverFromCrashedRun();
    let rehearsalBaseUrl: string | undefined;
    if (!this.config.model) {
      this.provider = new RehearsalProvider(this.config.rehearsal);
      rehearsalBaseUrl = (await this.provider.start()).baseUrl;
      this.logger.warn(
        `No real model configured (OPENCODE_MODEL is unset): OpenCode runs on the offline rehearsal provider ` +
          `${REHEARSAL_MODEL} at ${rehearsalBaseUrl}. Its answers are scripted, not intelligent.`,
      );
    }
    const directories = serverDirectories(this.options.dataDir);
    for (const dir of Object.values(directories)) mkdirSync(dir, { recursive: true });
    const env = buildOpencodeEnvironment({
      parentEnv: this.options.parentEnv,
      directories,
      config: buildOpencodeConfig({ model: this.defaultModel, rehearsalBaseUrl, snapshots: this.config.snapshots }),
      password: this.options.password,
      passEnv: this.options.passEnv,
    });
    this.sandboxed = bwrap ? { bwrap, layout: this.sandboxLayout(directories, env) } : undefined;
    this.logSandbox(reason);
    this.setpriv = this.sandboxed ? undefined : this.findParentDeathWatch();
    this.logFile = createWriteStream(join(this.options.dataDir, 'opencode-server.log'), { flags: 'a' });
    this.port = this.config.port || (await findFreePort(this.options.hostname));
    this.spawnArgs = { binary, env, cwd: directories.home };
    this.running = true;
    try {
      await this.launch();
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.healthTimer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs);
    this.healthTimer.unref();
    this.logger.log(
      `OpenCode server ${this.endpoint().baseUrl} is up (pid ${this.child?.pid}, model ${this.defaultModel}, ` +
        `${this.sandboxed ? 'bubblewrap sandbox' : 'NO sandbox'})`,
    );
  }

  /** SIGTERM, then SIGKILL after stopGraceMs; stops the rehearsal provider. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.healthTimer);
    clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = undefined;
    if (child) await terminate(child, this.options.stopGraceMs);
    if (this.ownsPidFile) rmSync(this.pidFilePath, { force: true });
    this.ownsPidFile = false;
    await this.provider?.stop();
    this.logFile?.end();
    this.logFile = undefined;
  }

  /** Spawns the server and waits for its health check; kills it again if it never answers. */
  private async launch(): Promise<void> {
    if (!this.running || !this.spawnArgs) throw new Error('the OpenCode server was stopped');
    const { binary, env, cwd } = this.spawnArgs;
    // Else the health check could be answered by whoever holds the port.
    if (!(await isPortFree(this.port, this.options.hostname))) {
      const taken = this.port;
      this.port = await findFreePort(this.options.hostname);
      this.logger.warn(`Port ${taken} is taken: the OpenCode server uses port ${this.port}`);
    }
    const serve = [binary, 'serve', '--port', String(this.port), '--hostname', this.options.hostname];
    const [command, ...args] = this.sandboxed
      ? [this.sandboxed.bwrap, ...bwrapArguments(this.sandboxed.layout, serve)]
      : this.setpriv
        ? [this.setpriv, ...parentDeathArguments(serve)]
        : serve;
    // Spawned from this (the main) thread: the parent-death signal watches the spawning thread.
    const child = spawn(command, args, {
      cwd,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: stopping it also stops the tools it started (shells, language servers).
      // Sandboxed, the group is bwrap's: the sandbox dies with it (--die-with-parent, PID namespace).
      // Under setpriv, the group is the server's own (setpriv execs it, same pid).
      detached: true,
    });
    killOnProcessExit(child);
    // Without a listener, a later 'error' (e.g. a failed kill) would crash this process.
    child.on('error', (err) => this.logger.error(`OpenCode server process error: ${err.message}`));
    this.child = child;
    this.lastStartAt = Date.now();
    this.collectOutput(child);
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    try {
      await this.waitUntilHealthy(child);
    } catch (err) {
      this.child = undefined;
      await terminate(child, 0);
      throw err;
    }
    this.writePidFile(child);
  }

  /**
   * What the sandbox shows: the system read-only; writable the data dir and the workspace roots
   * (realpaths; a missing root is skipped); the orchestrator's directory read-only with its .env
   * files hidden; the orchestrator user's home hidden, except the credential and config files the
   * passed variables name; a private /tmp.
   */
  private sandboxLayout(directories: OpencodeServerDirectories, env: NodeJS.ProcessEnv): SandboxLayout {
    const writableRoots = this.options.writableRoots.flatMap((root) => {
      const real = realDirectory(root);
      if (!real) this.logger.warn(`Workspace root ${root} is not an existing directory: it is not writable in the OpenCode sandbox`);
      return real ? [real] : [];
    });
    const protectedDirs = this.options.protectedDirs.flatMap((dir) => realDirectory(dir) ?? []);
    const home = realDirectory(this.options.parentEnv.HOME ?? homedir());
    return {
      dataDir: realpathSync(this.options.dataDir),
      writableRoots,
      readOnlyDirs: protectedDirs,
      hiddenDirs: home && home !== '/' ? [home] : [],
      hiddenFiles: protectedDirs.flatMap(dotenvFilesIn),
      readablePaths: referencedPathsOf(env).filter((path) => existsSync(path)),
      cwd: directories.home,
    };
  }

  private logSandbox(reason: string | undefined): void {
    const sandbox = this.sandboxed;
    if (!sandbox) {
      this.logger.warn(
        `OpenCode runs WITHOUT an OS sandbox (${reason ?? `OPENCODE_SANDBOX=${this.options.sandbox}`}): the agents' shell ` +
          'commands can write wherever this user can and read its other processes\' environment; only OpenCode\'s ' +
          'permission rules confine them. Install bubblewrap (apt-get install bubblewrap) to sandbox it.',
      );
      return;
    }
    const { writableRoots, dataDir, readOnlyDirs, hiddenDirs } = sandbox.layout;
    this.logger.log(
      `OpenCode runs in a bubblewrap sandbox (${sandbox.bwrap}): system read-only, private /tmp and PID namespace; ` +
        `writable: ${[...writableRoots, dataDir].join(', ')}; read-only: ${readOnlyDirs.join(', ') || '(none)'}; ` +
        `hidden: ${hiddenDirs.join(', ') || '(none)'}`,
    );
  }

  /**
   * Without the sandbox: `setpriv` (util-linux) on parentEnv's PATH that supports --pdeathsig, so that
   * the server is SIGKILLed by the kernel when this process dies. Else a warning, and the server runs
   * untied (the next start with this data dir kills a leftover).
   */
  private findParentDeathWatch(): string | undefined {
    const setpriv = findOnPath('setpriv', this.options.parentEnv.PATH, isExecutableFile);
    const problem = setpriv ? probeSetpriv(setpriv) : 'no `setpriv` executable is on PATH';
    if (problem === undefined) return setpriv;
    this.logger.warn(
      `The OpenCode server does not die with this process (${problem}): if this process is killed (SIGKILL, the OOM ` +
        `killer, a crash), its server keeps running, and holding its memory, until the next start with this data dir ` +
        `(${this.options.dataDir}) kills it. Install util-linux 2.33 or later (setpriv --pdeathsig), or bubblewrap, to tie them.`,
    );
    return undefined;
  }

  private async waitUntilHealthy(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + this.options.startupTimeoutMs;
    const spawnFailed = new Promise<never>((_, reject) => child.once('error', reject));
    spawnFailed.catch(() => undefined);
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `OpenCode server exited during startup (code ${child.exitCode}, signal ${child.signalCode}):\n${this.tail()}`,
        );
      }
      const healthy = await Promise.race([this.health.health().then((h) => h.healthy, () => false), spawnFailed]);
      if (healthy && child.exitCode === null && child.signalCode === null) return;
      await sleep(200);
    }
    throw new Error(
      `OpenCode server on port ${this.port} did not answer GET /global/health within ${this.options.startupTimeoutMs} ms:\n${this.tail()}`,
    );
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child || !this.running) return;
    this.logger.warn(`OpenCode server (pid ${child.pid}) exited unexpectedly (code ${code}, signal ${signal}):\n${this.tail()}`);
    this.emit('exited', `exited (code ${code}, signal ${signal})`);
    this.scheduleRestart(`exited (code ${code}, signal ${signal})`);
  }

  private async checkHealth(): Promise<void> {
    if (!this.running || this.restarting || this.healthCheckInFlight || !this.child) return;
    this.healthCheckInFlight = true;
    try {
      const healthy = await this.health.health().then((h) => h.healthy, () => false);
      if (healthy) {
        this.healthFailures = 0;
        if (Date.now() - this.lastStartAt > STABLE_AFTER_MS) this.restartStreak = 0;
        return;
      }
      this.healthFailures++;
      this.emit('unhealthy', `health check failed ${this.healthFailures} time(s) in a row`);
      if (this.healthFailures >= this.options.unhealthyAfterFailures) {
        this.logger.warn(`OpenCode server stopped answering (${this.healthFailures} failed health checks): restarting it`);
        this.scheduleRestart('stopped answering its health check');
      }
    } finally {
      this.healthCheckInFlight = false;
    }
  }

  private scheduleRestart(reason: string): void {
    if (!this.running || this.restarting) return;
    this.restarting = true;
    // 0.5 s, 1 s, 2 s, ... up to 30 s: a server that keeps crashing is not hammered.
    const delay = Math.min(MAX_RESTART_DELAY_MS, 500 * 2 ** this.restartStreak);
    this.restartStreak++;
    this.restartTimer = setTimeout(() => void this.restart(reason), delay);
  }

  private async restart(reason: string): Promise<void> {
    const old = this.child;
    this.child = undefined;
    if (old) await terminate(old, 0);
    if (!this.running) return;
    try {
      // Same port when it is free (launch checks), so that open event streams reconnect by themselves.
      await this.launch();
      this.restartCount++;
      this.healthFailures = 0;
      this.restarting = false;
      this.logger.warn(`OpenCode server restarted (${reason}); restarts so far: ${this.restartCount}`);
      this.emit('restarted', { restarts: this.restartCount, reason } satisfies ManagedServerRestart);
    } catch (err) {
      this.restarting = false;
      if (!this.running) return; // stopped while it restarted: nothing failed
      this.logger.error(`Restarting the OpenCode server failed: ${errorMessage(err)}`);
      this.scheduleRestart(reason);
    }
  }

  private collectOutput(child: ChildProcess): void {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.logFile?.write(text);
      for (const line of text.split('\n')) {
        if (!line.trim()) continue;
        this.outputTail.push(line);
        if (this.outputTail.length > OUTPUT_TAIL_LINES) this.outputTail.shift();
        this.logger.debug?.(`[opencode] ${line}`);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  private tail(): string {
    return this.outputTail.length > 0 ? this.outputTail.join('\n') : '(no output)';
  }

  private get pidFilePath(): string {
    return join(this.options.dataDir, 'opencode-server.pid');
  }

  private writePidFile(child: ChildProcess): void {
    const content: PidFile = { pid: child.pid!, ownerPid: process.pid, port: this.port };
    writeFileSync(this.pidFilePath, JSON.stringify(content));
    this.ownsPidFile = true;
  }

  /** A server whose owner died without stopping it (SIGKILL, crash) would hold the data dir. */
  private killLeftoverFromCrashedRun(): void {
    let previous: PidFile;
    try {
      previous = JSON.parse(readFileSync(this.pidFilePath, 'utf8')) as PidFile;
    } catch {
      return;
    }
    if (previous.ownerPid !== process.pid && isProcessAlive(previous.ownerPid)) {
      throw new Error(
        `Another process (pid ${previous.ownerPid}) manages an OpenCode server in ${this.options.dataDir}: ` +
          'give this process its own DATA_DIR, or point both at one server with OPENCODE_HOST',
      );
    }
    if (isProcessAlive(previous.pid) && looksLikeOpencode(previous.pid)) {
      this.logger.warn(`Killing a leftover OpenCode server (pid ${previous.pid}) from a run that did not stop it`);
      killGroup(previous.pid, 'SIGKILL');
    }
    rmSync(this.pidFilePath, { force: true });
  }
}

/** Every server process this process started and that still runs: killed if we exit first. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killOnProcessExit(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Covers normal exits, process.exit() and uncaught exceptions; a SIGKILL of this process is
  // covered by the kernel (bwrap --die-with-parent, setpriv --pdeathsig) and, for a server
  // started without either, by killLeftoverFromCrashedRun() on the next start.
  process.once('exit', () => {
    for (const running of liveChildren) if (running.pid) killGroup(running.pid, 'SIGKILL');
  });
}

/**
 * SIGTERM then SIGKILL. Measured on 1.18.33: once it has run a turn, `opencode serve` often
 * ignores SIGTERM (and SIGINT) for good, so the SIGKILL is not optional.
 */
async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (graceMs > 0) {
    killGroup(child.pid, 'SIGTERM');
    if (await within(exited, graceMs)) return;
  }
  killGroup(child.pid, 'SIGKILL');
  await within(exited, 5_000);
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** Runs a no-op in a sandbox like the server's: undefined when it works, else what bwrap said. */
function probeBwrap(bwrap: string, path: string | undefined): string | undefined {
  const probe = spawnSync(bwrap, probeArguments(), { env: { PATH: path ?? '/usr/bin:/bin' }, encoding: 'utf8', timeout: 10_000 });
  if (probe.status === 0) return undefined;
  return (probe.stderr || probe.error?.message || `exit code ${probe.status}, signal ${probe.signal}`).trim();
}

/** Runs a no-op under a parent-death signal: undefined when it works, else what went wrong. */
function probeSetpriv(setpriv: string): string | undefined {
  const probe = spawnSync(setpriv, parentDeathProbeArguments(setpriv), { env: {}, encoding: 'utf8', timeout: 10_000 });
  if (probe.status === 0) return undefined;
  const said = (probe.stderr || probe.error?.message || `exit code ${probe.status}, signal ${probe.signal}`).trim();
  return `${setpriv} --pdeathsig does not work here: ${said}`;
}

function isExecutableFile(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function realDirectory(path: string): string | undefined {
  try {
    const real = realpathSync(path);
    return statSync(real).isDirectory() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** `.env`, `.env.local`, ... at the top of a directory: secrets a sandboxed agent must not read. */
function dotenvFilesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((entry) => /^\.env(\..+)?$/.test(entry.name) && (entry.isFile() || entry.isSymbolicLink()))
      .map((entry) => join(dir, entry.name));
  } catch {
    return [];
  }
}

function looksLikeOpencode(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('opencode');
  } catch {
    // No /proc (macOS): trust the pid file.
    return process.platform !== 'linux';
  }
}

async function within(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

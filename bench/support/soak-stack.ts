import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ManagedOpencodeServer, OpencodeHttpClient } from '@app/opencode';
import axios, { AxiosInstance } from 'axios';
import { startPostgresServer, TestPostgresServer } from '../../test/support/postgres-server';
import { freePort, startRedisServer, TestRedisServer } from '../../test/support/redis-server';
import { TcpForwarder } from './soak-forwarder';
import { API_MAIN, AppProcess, ProcessExit, REPO_ROOT, WORKER_MAIN } from './soak-processes';

export interface SoakStackOptions {
  /** The run's temporary directory: logs, data directories, the servers' files. */
  root: string;
  /** The built snapshot (see buildSnapshot). */
  appDir: string;
  /** WORKSPACE_ROOTS: every workspace of the run is below it. */
  wsRoot: string;
  queuePrefix: string;
  /** API_KEY of the API (the bootstrap admin key). */
  apiKey: string;
  workers: number;
  leaseSeconds: number;
  log: (message: string) => void;
}

/**
 * Everything the soak runs, each a separate process as deployed: a PostgreSQL and a Redis of its
 * own on free ports (test/support: the machine's shared servers are never stopped), one
 * `opencode serve` on the rehearsal provider (supervised by this process: restarted when it dies,
 * as a compose restart policy would; the workers reach it through a stable address, TcpForwarder), the API (`node dist/apps/api/src/main.js`) and N workers
 * (`node dist/apps/worker/src/main.js`) pointed at that server as their external OPENCODE_HOST.
 * A process that exits without the soak asking is recorded and started again 2 s later (a
 * supervisor's Restart=always); so is a worker that could not start (its database was down).
 */
export class SoakStack {
  pg!: TestPostgresServer;
  redis!: TestRedisServer;
  opencode!: ManagedOpencodeServer;
  opencodeClient!: OpencodeHttpClient;
  api!: AppProcess;
  apiPort = 0;
  readonly workers: AppProcess[] = [];
  /** Every exit of an API or worker process, expected or not. */
  readonly exits: ProcessExit[] = [];
  /** Every process started, for the error lines they logged. */
  readonly processes: AppProcess[] = [];
  private readonly opencodePassword = randomBytes(12).toString('hex');
  /** The address the workers know OpenCode by (see TcpForwarder): its own port may change when it is restarted. */
  private opencodeAddress?: TcpForwarder;
  private opencodePort = 0;
  private workerCount = 0;
  private stopping = false;

  constructor(private readonly o: SoakStackOptions) {}

  async start(): Promise<void> {
    const { root, log } = this.o;
    // test/support makes its servers' files under tmpdir() (and an initdb template it never
    // removes): pointed at the run's directory, they go with it.
    const previousTmp = process.env.TMPDIR;
    process.env.TMPDIR = join(root, 'servers');
    mkdirSync(process.env.TMPDIR, { recursive: true, mode: 0o755 });
    try {
      [this.pg, this.redis] = await Promise.all([startPostgresServer('orchestrator_soak'), startRedisServer()]);
    } finally {
      if (previousTmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = previousTmp;
    }
    log(`PostgreSQL ${this.pg.host}:${this.pg.port}, Redis ${this.redis.host}:${this.redis.port} (both the run's own)`);
    this.opencode = new ManagedOpencodeServer({
      dataDir: join(root, 'opencode'),
      parentEnv: process.env,
      sandbox: 'auto',
      writableRoots: [this.o.wsRoot],
      protectedDirs: [this.o.appDir, REPO_ROOT],
      password: this.opencodePassword,
      stopGraceMs: 2_000,
      // A supervisor patient with a loaded machine: at the default 30 s, restarts under a load of 15
      // on 2 cores were killed as "not answering" twice in a row before one got through.
      startupTimeoutMs: 120_000,
      logger: { log: () => undefined, warn: (m) => !m.startsWith('No real model') && log(`[opencode] ${m.split('\n')[0]}`), error: (m) => log(`[opencode] ${m.split('\n')[0]}`) },
    });
    await this.opencode.start();
    this.opencodeClient = new OpencodeHttpClient(this.opencode);
    this.opencodeAddress = new TcpForwarder(() => {
      const url = new URL(this.opencode.endpoint().baseUrl);
      return { host: url.hostname, port: Number(url.port) };
    });
    this.opencodePort = await this.opencodeAddress.listen();
    log(
      `OpenCode ${this.opencode.endpoint().baseUrl} (pid ${this.opencode.pid}, ${this.opencode.isSandboxed ? 'bubblewrap sandbox' : 'no sandbox'}, ` +
        `model ${this.opencode.defaultModel}), reached by the workers at 127.0.0.1:${this.opencodePort}`,
    );
    this.apiPort = await freePort('127.0.0.1');
    // The API first: it migrates the database; workers started at the same time would race it
    // (they take the same advisory lock, but a slower start is all it buys).
    this.api = this.spawn('api', API_MAIN, { PORT: String(this.apiPort) });
    await this.api.waitReady(120_000, () => this.apiAnswers());
    log(`API http://127.0.0.1:${this.apiPort} (pid ${this.api.pid})`);
    await Promise.all(Array.from({ length: this.o.workers }, () => this.startWorker()));
    log(`workers: ${this.workers.map((w) => `${w.name} (pid ${w.pid})`).join(', ')}`);
  }

  /** A client of the API with `key`. */
  client(key: string, timeoutMs = 30_000): AxiosInstance {
    return axios.create({ baseURL: `http://127.0.0.1:${this.apiPort}`, timeout: timeoutMs, headers: { authorization: `Bearer ${key}` } });
  }

  liveWorkers(): AppProcess[] {
    return this.workers.filter((w) => w.alive && !w.expectExit);
  }

  /** Starts one more worker and waits until it runs. */
  async startWorker(): Promise<AppProcess> {
    const n = ++this.workerCount;
    const dataDir = join(this.o.root, 'data', `worker-${n}`);
    mkdirSync(dataDir, { recursive: true });
    const worker = this.spawn(`worker-${n}`, WORKER_MAIN, { DATA_DIR: dataDir }, 'Session worker running');
    this.workers.push(worker);
    await worker.waitReady(120_000);
    return worker;
  }

  /** Whether OpenCode answers its health check. */
  async opencodeAnswers(): Promise<boolean> {
    return this.opencodeClient.health().then((h) => h.healthy === true, () => false);
  }

  /** Stops everything this stack started (each by its own handle), the servers last. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all([...this.workers, this.api].filter(Boolean).map((p) => p.stop('SIGKILL', 5_000)));
    await this.opencodeAddress?.close();
    await this.opencode?.stop().catch(() => undefined);
    await Promise.all([this.pg?.stop(), this.redis?.stop()].map((p) => p?.catch(() => undefined)));
  }

  private env(extra: Record<string, string>): NodeJS.ProcessEnv {
    return {
      ...process.env,
      ...this.pg.env(),
      ...this.redis.env(),
      QUEUE_PREFIX: this.o.queuePrefix,
      API_KEY: this.o.apiKey,
      HOST: '127.0.0.1',
      WORKSPACE_ROOTS: this.o.wsRoot,
      WORKTREES_DIR: join(this.o.wsRoot, '.worktrees'),
      DATA_DIR: join(this.o.root, 'data', 'api'),
      OPENCODE_HOST: '127.0.0.1',
      OPENCODE_PORT: String(this.opencodePort),
      OPENCODE_PASSWORD: this.opencodePassword,
      OPENCODE_MODEL: this.opencode.defaultModel,
      OPENCODE_HOSTS: '',
      OPENCODE_SERVERS: '0',
      WORKER_LEASE_SECONDS: String(this.o.leaseSeconds),
      WORKER_METRICS_PORT: '0',
      // 'log' for the workers' "Session worker running"; JSON lines, counted by level.
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'json',
      ...extra,
    };
  }

  private spawn(name: string, script: string, extra: Record<string, string>, readyLine?: string): AppProcess {
    const child = new AppProcess({ name, cwd: this.o.appDir, script, env: this.env(extra), logFile: join(this.o.root, 'logs', `${name}.log`), readyLine });
    this.processes.push(child);
    void child.exited.then((exit) => this.onExit(child, exit, script, extra, readyLine));
    return child;
  }

  /** The supervisor: a process that died on its own is recorded and started again (the API on its port). */
  private async onExit(child: AppProcess, exit: ProcessExit, script: string, extra: Record<string, string>, readyLine?: string): Promise<void> {
    this.exits.push(exit);
    if (exit.expected || this.stopping) return;
    this.o.log(`!! ${exit.name} (pid ${exit.pid}) exited on its own (code ${exit.code}, signal ${exit.signal}); starting it again in 2 s`);
    await sleep(2_000);
    if (this.stopping) return;
    if (child === this.api) {
      this.api = this.spawn('api', script, extra, readyLine);
      await this.api.waitReady(120_000, () => this.apiAnswers()).catch((err: Error) => this.o.log(`!! ${err.message}`));
      return;
    }
    const index = this.workers.indexOf(child);
    if (index >= 0) this.workers.splice(index, 1);
    await this.startWorker().catch((err: Error) => this.o.log(`!! ${err.message}`));
  }

  private async apiAnswers(): Promise<boolean> {
    const res = await axios.get(`http://127.0.0.1:${this.apiPort}/health/live`, { timeout: 2_000, validateStatus: () => true });
    return res.status === 200;
  }
}

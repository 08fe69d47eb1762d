import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { waitFor } from '@app/testing';
import { ManagedOpencodeServer } from './managed-opencode-server';
import { OpencodeSandboxMode, probeArguments } from './opencode-sandbox';
import { descendantsOf } from './process-tree';
import { MANAGED_SERVER_REPORT, ManagedServerReport } from './testing/start-managed-server';

const ROOT = join(__dirname, '..', '..', '..', '..');
const FIXTURE = join(__dirname, 'testing', 'start-managed-server.ts');
/** How long the kernel gets to take a server down after its worker was SIGKILLed. */
const DIES_WITHIN_MS = 10_000;
/** Starting `opencode serve` on 2 busy cores can take 20 s and more. */
const STARTUP_MS = 60_000;
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** A process as /proc shows it; its start time tells it apart from a later process given the same pid. */
interface ProcessIdentity {
  pid: number;
  startTime: string;
  cmdline: string;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces): [0] state, [1] ppid, [19] start time. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Every process below `root` (children, their children, ...), with what identifies each, read from /proc. */
function identitiesBelow(root: number): ProcessIdentity[] {
  const found: ProcessIdentity[] = [];
  for (const pid of descendantsOf(root)) {
    const fields = statFields(pid);
    if (!fields) continue;
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      // Gone meanwhile.
    }
    found.push({ pid, startTime: fields[19], cmdline });
  }
  return found;
}

/** Still running: the same process (pid and start time) is there and is no zombie waiting to be reaped. */
function isAlive(identity: ProcessIdentity): boolean {
  const fields = statFields(identity.pid);
  return fields !== undefined && fields[19] === identity.startTime && fields[0] !== 'Z' && fields[0] !== 'X';
}

async function answersHealth(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/global/health`, { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

interface Worker {
  child: ChildProcess;
  report: ManagedServerReport;
  output(): string;
}

/** Starts the stand-in worker (testing/start-managed-server.ts) and waits for its report. */
function startWorker(dataDir: string, sandbox: OpencodeSandboxMode, started: ChildProcess[]): Promise<Worker> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', FIXTURE, dataDir, sandbox], {
    cwd: ROOT,
    // The whole environment (read through the config, like the app) for ts-node and the server it starts.
    env: { ...AppConfig.fromEnvironment().processEnvironment, TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_SWC: 'true' },
    stdio: ['pipe', 'pipe', 'pipe'], // stdin: it exits when this process is gone
  });
  started.push(child);
  child.stdin?.on('error', () => undefined);
  let out = '';
  return new Promise<Worker>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no report from the worker within ${STARTUP_MS} ms:\n${out}`)), STARTUP_MS);
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith(MANAGED_SERVER_REPORT));
      if (!line) return;
      clearTimeout(timer);
      resolve({ child, report: JSON.parse(line.slice(MANAGED_SERVER_REPORT.length)) as ManagedServerReport, output: () => out });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited (code ${code}, signal ${signal}) before its server was up:\n${out}`));
    });
  });
}

function killWorker(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Whether bubblewrap can make the server's sandbox on this machine: undefined when it can, else why not. */
function whyNoBwrap(): string | undefined {
  const probe = spawnSync('bwrap', probeArguments(), { encoding: 'utf8', timeout: 10_000 });
  if (probe.status === 0) return undefined;
  return (probe.error?.message || probe.stderr || `exit code ${probe.status}`).trim();
}
const noBwrap = whyNoBwrap();

/**
 * A worker killed with SIGKILL (the OOM killer, a crash) runs no exit hook: its `opencode serve`
 * must still die with it, by the kernel's hand (setpriv's parent-death signal without the sandbox,
 * bwrap's --die-with-parent in it), not wait for the next start with the same data dir.
 */
describe('ManagedOpencodeServer dies with the process that started it', () => {
  const started: ChildProcess[] = [];
  const serverProcesses: ProcessIdentity[] = [];
  const dataDirs: string[] = [];

  afterEach(async () => {
    // Whatever a failed test left: its worker, then any server process still running (by pid, checked).
    await Promise.all(started.splice(0).map(killWorker));
    for (const leftover of serverProcesses.splice(0).filter(isAlive)) {
      try {
        process.kill(leftover.pid, 'SIGKILL');
      } catch {
        // Gone meanwhile.
      }
    }
    for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  async function killWorkerAndWatchServer(sandbox: OpencodeSandboxMode): Promise<{ report: ManagedServerReport; server: ProcessIdentity[]; diedAfterMs: number }> {
    const dataDir = mkdtempSync(join(tmpdir(), `orchestrator-die-with-parent-${sandbox}-`));
    dataDirs.push(dataDir);
    const worker = await startWorker(dataDir, sandbox, started);
    const server = identitiesBelow(worker.child.pid!);
    serverProcesses.push(...server);
    expect(server.map((p) => p.pid)).toContain(worker.report.pid);
    expect(server.some((p) => /opencode\S* serve /.test(p.cmdline))).toBe(true);
    expect(await answersHealth(worker.report.port)).toBe(true);

    const killedAt = Date.now();
    await killWorker(worker.child);
    await waitFor(
      async () => server.filter(isAlive).map((p) => `${p.pid} ${p.cmdline}`),
      (alive) => alive.length === 0,
      { timeoutMs: DIES_WITHIN_MS, intervalMs: 20, what: `every process of the ${sandbox === 'none' ? 'unsandboxed' : 'sandboxed'} server to die after its worker was SIGKILLed` },
    );
    const diedAfterMs = Date.now() - killedAt;
    expect(await answersHealth(worker.report.port)).toBe(false);
    return { report: worker.report, server, diedAfterMs };
  }

  it(
    'without the sandbox: the server runs under setpriv --pdeathsig and dies when its worker is SIGKILLed',
    async () => {
      const { report, server, diedAfterMs } = await killWorkerAndWatchServer('none');
      expect(report).toMatchObject({ sandboxed: false, diesWithThisProcess: true });
      // setpriv execs the server: the worker's one child is `opencode serve` itself, the supervised pid.
      expect(server).toEqual([expect.objectContaining({ pid: report.pid, cmdline: expect.stringMatching(/opencode\S* serve /) })]);
      expect(diedAfterMs).toBeLessThan(DIES_WITHIN_MS);
    },
    STARTUP_MS + DIES_WITHIN_MS + 10_000,
  );

  (noBwrap ? it.skip : it)(
    `in the bubblewrap sandbox: bwrap, its PID 1 and the server die when their worker is SIGKILLed${noBwrap ? ` (skipped: bwrap cannot sandbox here: ${noBwrap})` : ''}`,
    async () => {
      const { report, server, diedAfterMs } = await killWorkerAndWatchServer('bwrap');
      expect(report).toMatchObject({ sandboxed: true, diesWithThisProcess: true });
      // bwrap (the supervised pid), bwrap as PID 1 of the namespace, the server inside it.
      expect(server.map((p) => p.cmdline.split(' ')[0].split('/').pop())).toEqual(['bwrap', 'bwrap', expect.stringMatching(/^opencode/)]);
      expect(server[0].pid).toBe(report.pid);
      expect(diedAfterMs).toBeLessThan(DIES_WITHIN_MS);
    },
    STARTUP_MS + DIES_WITHIN_MS + 10_000,
  );

  it('says once, at start, when an unsandboxed server cannot be tied to this process, and why', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'orchestrator-fake-setpriv-'));
    dataDirs.push(bin);
    // util-linux before 2.33: a setpriv without --pdeathsig.
    writeFileSync(join(bin, 'setpriv'), "#!/bin/sh\necho \"setpriv: unrecognized option '--pdeathsig'\" >&2\nexit 1\n");
    chmodSync(join(bin, 'setpriv'), 0o755);
    const cases = [
      { path: '/nonexistent', says: 'no `setpriv` executable is on PATH' },
      { path: `${bin}:/usr/bin:/bin`, says: `${join(bin, 'setpriv')} --pdeathsig does not work here: setpriv: unrecognized option '--pdeathsig'` },
    ];
    for (const { path, says } of cases) {
      const warnings: string[] = [];
      const server = new ManagedOpencodeServer({
        dataDir: join(bin, 'data'),
        parentEnv: { PATH: path },
        sandbox: 'none',
        model: 'a/b',
        // No real server needed: /bin/sh fails at once, after the decision was made and logged.
        binaryPath: '/bin/sh',
        logger: { ...quiet, warn: (message) => warnings.push(message) },
      });
      await expect(server.start()).rejects.toThrow(/exited during startup/);
      expect(server.diesWithThisProcess).toBe(false);
      const untied = warnings.filter((w) => w.startsWith('The OpenCode server does not die with this process'));
      expect(untied).toEqual([expect.stringContaining(`(${says}): if this process is killed (SIGKILL`)]);
      expect(untied[0]).toMatch(/until the next start with this data dir .* kills it\. Install util-linux/);
    }
  });
});

import { AppConfig } from '@app/config';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTempWorkspace, removeTempWorkspaces, waitFor } from '@app/testing';
import {
  isProcessAlive,
  ManagedOpencodeServer,
  ManagedServerRestart,
  OpencodeHttpClient,
  OpencodeTurnRunner,
  REHEARSAL_MODEL,
  TurnOutcome,
  TurnRequest,
} from '@app/opencode';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
/** Only the PATH of this process's environment (read through the config, like the app). */
const PATH_ONLY = { PATH: AppConfig.fromEnvironment().processEnvironment.PATH };


/** Pids of the processes whose command line contains `needle` (reads /proc: Linux only). */
function processesWith(needle: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;

/** Starts a slow turn and resolves once the model is streaming (wrapped: awaiting would flatten the outcome). */
async function startSlowTurn(runner: OpencodeTurnRunner, request: TurnRequest): Promise<{ outcome: Promise<TurnOutcome> }> {
  const ref = await runner.openTurn(request);
  let streaming!: () => void;
  const isStreaming = new Promise<void>((resolve) => (streaming = resolve));
  const outcome = runner.runTurn(ref, request, {
    signal: new AbortController().signal,
    onProgress: (p) => p.kind === 'text' && streaming(),
  });
  await Promise.race([isStreaming, outcome]);
  return { outcome };
}

/** Its own server (not the shared one): this spec kills and stops it. */
describe('ManagedOpencodeServer', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'orchestrator-managed-opencode-'));
  const server = new ManagedOpencodeServer({
    dataDir,
    parentEnv: AppConfig.fromEnvironment().processEnvironment,
    writableRoots: [tmpdir()],
    password: 'managed-spec',
    healthIntervalMs: 500,
    unhealthyAfterFailures: 2,
    stopGraceMs: 1_000,
    logger: quiet,
  });
  const client = new OpencodeHttpClient(server);
  const slowRequest = (): TurnRequest => ({
    workspace: makeTempWorkspace(),
    title: 'managed server spec',
    prompt: '[[slow 30]] keep talking',
    agent: 'build',
  });

  beforeAll(() => server.start());
  afterAll(async () => {
    await server.stop();
    removeTempWorkspaces();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('reports a server that cannot start, with its output', async () => {
    const broken = new ManagedOpencodeServer({
      dataDir: join(dataDir, 'broken'),
      parentEnv: AppConfig.fromEnvironment().processEnvironment,
      model: 'anthropic/claude-sonnet-4',
      binaryPath: '/bin/sh',
      logger: quiet,
    });
    // /bin/sh given "serve --port ..." fails at once and says why on stderr.
    await expect(broken.start()).rejects.toThrow(/exited during startup[\s\S]*serve/);
    expect(broken.rehearsal).toBeUndefined();
  });

  it('refuses to start in bwrap mode when bubblewrap is not on PATH', async () => {
    const unsandboxable = new ManagedOpencodeServer({
      dataDir: join(dataDir, 'no-bwrap'),
      parentEnv: { PATH: '/nonexistent' },
      sandbox: 'bwrap',
      logger: quiet,
    });
    await expect(unsandboxable.start()).rejects.toThrow(/OPENCODE_SANDBOX=bwrap but no `bwrap` executable is on PATH/);
  });

  it('tells a bubblewrap that cannot sandbox (e.g. in a container): fatal in bwrap mode, a warning in auto mode', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'orchestrator-fake-bwrap-'));
    writeFileSync(join(bin, 'bwrap'), '#!/bin/sh\necho "bwrap: No permissions to create new namespace" >&2\nexit 1\n', { mode: 0o755 });
    const warnings: string[] = [];
    const options = { parentEnv: { PATH: `${bin}:/usr/bin:/bin` }, model: 'a/b', binaryPath: '/bin/sh', logger: { ...quiet, warn: (m: string) => warnings.push(m) } };
    try {
      const strict = new ManagedOpencodeServer({ ...options, dataDir: join(dataDir, 'fake-bwrap-strict'), sandbox: 'bwrap' });
      await expect(strict.start()).rejects.toThrow(/OPENCODE_SANDBOX=bwrap but .*\/bwrap cannot create a sandbox here: bwrap: No permissions to create new namespace/);
      const lenient = new ManagedOpencodeServer({ ...options, dataDir: join(dataDir, 'fake-bwrap-auto'), sandbox: 'auto' });
      await expect(lenient.start()).rejects.toThrow(/exited during startup/); // /bin/sh is no server, but it was started unsandboxed
      expect(warnings).toContainEqual(expect.stringMatching(/^OpenCode runs WITHOUT an OS sandbox \(OPENCODE_SANDBOX=auto, .*cannot create a sandbox here/));
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('says plainly in its log when it runs without a sandbox', async () => {
    const warnings: string[] = [];
    const unsandboxed = new ManagedOpencodeServer({
      dataDir: join(dataDir, 'unsandboxed'),
      parentEnv: PATH_ONLY,
      sandbox: 'none',
      model: 'a/b',
      binaryPath: '/bin/sh',
      logger: { ...quiet, warn: (message) => warnings.push(message) },
    });
    await expect(unsandboxed.start()).rejects.toThrow(/exited during startup/);
    expect(warnings).toContainEqual(expect.stringMatching(/^OpenCode runs WITHOUT an OS sandbox \(OPENCODE_SANDBOX=none\): /));
  });

  (hasBwrap ? it : it.skip)('runs in the bubblewrap sandbox when bwrap is installed (sandbox auto)', () => {
    expect(server.isSandboxed).toBe(true);
    expect(readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0')[0]).toMatch(/bwrap$/);
  });

  (hasBwrap ? it : it.skip)('kills a sandboxed leftover of a crashed run, and everything in its sandbox, on start', async () => {
    const crashedDir = mkdtempSync(join(tmpdir(), 'orchestrator-managed-leftover-'));
    const marker = `leftover-${process.pid}-${Date.now()}`;
    // A "server" of a run that died: a bwrap sandbox (its group leader) with a process inside it.
    const leftover = spawn('bwrap', ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--unshare-pid', '--die-with-parent', '--new-session', 'sh', '-c', 'sleep 300; true', 'opencode', marker], {
      detached: true,
      stdio: 'ignore',
    });
    const deadOwner = spawnSync('true').pid;
    // No need for a real server here: /bin/sh fails at once, after the leftover was dealt with.
    const restarted = new ManagedOpencodeServer({ dataDir: crashedDir, parentEnv: PATH_ONLY, binaryPath: '/bin/sh', model: 'a/b', logger: quiet });
    try {
      // bwrap, bwrap as PID 1 of the namespace, and the shell inside it.
      await waitFor(async () => processesWith(marker).length, (n) => n === 3, { what: 'the leftover sandbox to start' });
      writeFileSync(join(crashedDir, 'opencode-server.pid'), JSON.stringify({ pid: leftover.pid, ownerPid: deadOwner, port: 1 }));
      await expect(restarted.start()).rejects.toThrow(/exited during startup/);
      await waitFor(async () => processesWith(marker).length, (n) => n === 0, { what: 'the leftover sandbox to be killed' });
    } finally {
      await restarted.stop();
      try {
        process.kill(-leftover.pid!, 'SIGKILL');
      } catch {
        // Killed by start(), as expected.
      }
      rmSync(crashedDir, { recursive: true, force: true });
    }
  });

  it('serves on the rehearsal model behind its password', async () => {
    expect(server.defaultModel).toBe(REHEARSAL_MODEL);
    expect(server.rehearsal?.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    await expect(client.health()).resolves.toMatchObject({ healthy: true });
    const { baseUrl } = server.endpoint();
    const anonymous = new OpencodeHttpClient({ endpoint: () => ({ baseUrl }) });
    await expect(anonymous.health()).rejects.toMatchObject({ status: 401 });
    const refusedAt = Date.now();
    await expect(anonymous.subscribe({ onEvent: () => undefined })).rejects.toMatchObject({ status: 401 });
    expect(Date.now() - refusedAt).toBeLessThan(2_000);
  });

  it('restarts a killed server on the same port; the interrupted turn comes back lost', async () => {
    const runner = new OpencodeTurnRunner(client, { reconcileIntervalMs: 500 });
    const { outcome } = await startSlowTurn(runner, slowRequest());
    const { baseUrl } = server.endpoint();
    const killedPid = server.pid!;
    const restarted = once(server, 'restarted') as Promise<[ManagedServerRestart]>;
    const events = await client.subscribe({ onEvent: () => undefined });
    try {
      process.kill(killedPid, 'SIGKILL');

      const [restart] = await restarted;
      expect(restart.restarts).toBe(1);
      expect(server.restarts).toBe(1);
      expect(server.pid).not.toBe(killedPid);
      expect(isProcessAlive(killedPid)).toBe(false);
      expect(server.endpoint().baseUrl).toBe(baseUrl);
      await expect(outcome).resolves.toMatchObject({ status: 'lost', error: { code: 'OPENCODE_SESSION_LOST' } });
      // The event stream (here /global/event) comes back by itself on the restarted server (its
      // back-off may still be waiting when the turn is already known lost, on a loaded machine).
      await waitFor(
        async () => ({ reconnects: events.reconnects, connected: events.connected }),
        (s) => s.connected && s.reconnects >= 1,
        { timeoutMs: 20_000, what: 'the event stream to reconnect' },
      );
      expect(events.reconnects).toBe(1);
    } finally {
      events.close(); // an open stream would keep reconnecting and jest from exiting
    }
  });

  it('fails a turn with OPENCODE_UNAVAILABLE when the server is gone, and stop() leaves no process behind', async () => {
    const runner = new OpencodeTurnRunner(client, { reconcileIntervalMs: 500, unavailableAfterMs: 2_000 });
    const { outcome } = await startSlowTurn(runner, slowRequest());
    const pid = server.pid!;
    const serving = `--port\0${new URL(server.endpoint().baseUrl).port}\0`;
    expect(processesWith(serving).length).toBeGreaterThanOrEqual(1);

    await server.stop();

    expect(isProcessAlive(pid)).toBe(false);
    // Nothing of it is left: with bwrap, neither bwrap nor the server inside its PID namespace.
    await waitFor(async () => processesWith(serving), (pids) => pids.length === 0, { what: 'every server process to exit' });
    const startedWaiting = Date.now();
    await expect(outcome).resolves.toMatchObject({ status: 'failed', error: { code: 'OPENCODE_UNAVAILABLE' } });
    expect(Date.now() - startedWaiting).toBeLessThan(10_000);
  });
});

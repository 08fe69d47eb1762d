import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { descendantsOf, FleetServerView, ManagedOpencodeServer, OpencodeFleet } from '@app/opencode';
import { SESSION_TRANSITIONS } from '@app/session';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

/**
 * OpenCode frozen (SIGSTOP) or killed (SIGKILL) in the middle of a turn, through the app (HTTP API
 * and the worker in the test app): every session ends in a final state with an explicit code and
 * message, or is run again on its own and completes; none stays RUNNING or QUEUED, its history is
 * a legal chain of transitions, and the system takes new sessions afterwards. Once with one
 * managed server (the worker's own `opencode serve`, replaced by the fleet), once with an external
 * server (a private `opencode serve` this file runs; never the shared one other files use).
 *
 * How long each takes is set by the product's own limits, none of them shortened here:
 * - frozen, with a short session `timeoutSeconds` (FROZEN_TIMEOUT_SECONDS): the worker aborts the
 *   turn at the deadline, waits 5 s for the abort to settle and up to 15 s for the turn's messages
 *   (the request timeout): TIMED_OUT some 20 s after the deadline, before any other remedy;
 * - frozen and left so: the turn's 30 s silence limit (its requests time out after 15 s each, so
 *   30-39 s); a managed server, UNHEALTHY by then (three failed probes, 6-8 s), is replaced and
 *   the turn fails over; an external one is not ours to replace;
 * - killed: a managed server's exit loses its turns at once; an external server's refused
 *   requests last until it is back, or until the 30 s silence limit.
 * NO_PROGRESS_SECONDS stays at its default (600 s): it never decides here.
 */

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];
/** The session lifecycle's transitions (the domain's own table): the history must follow them. */
const LEGAL: Readonly<Record<string, readonly string[]>> = SESSION_TRANSITIONS;
/** The id of the next generation of a managed server's slot (…-m0g1 → …-m0g2): its replacement. */
const successorOf = (serverId: string) => serverId.replace(/g(\d+)$/, (_, g: string) => `g${Number(g) + 1}`);
/** A session whose first attempt was lost with its server and that completed on the second (failover). */
const FAILED_OVER = [
  ['PENDING', 1],
  ['QUEUED', 1],
  ['RUNNING', 1],
  ['FAILED', 1],
  ['QUEUED', 2],
  ['RUNNING', 2],
  ['COMPLETED', 2],
];
/** A turn on a warm server streams its first text within seconds; a loaded machine may take ten times that. */
const STREAM_MS = 30_000;
/** A server READY again: at once, or a replacement's start (tens of seconds on a loaded machine). */
const READY_MS = 60_000;
/** A lost turn found out (at once, or after a restarted server's first answers), a new server's start, and the 8 s turn run again. */
const LOST_AND_RERUN_MS = 90_000;
/** A short session, placed as soon as a server is READY. */
const SHORT_MS = 60_000;
/** Three failed probes (one every 2 s, each timing out after 2 s). */
const UNHEALTHY_MS = 20_000;
/** A turn's 30 s silence limit (its requests time out after 15 s each, so up to 39 s), and what follows at once. */
const SILENCE_MS = 50_000;
/** An external server's start (31 s seen with 15 processes on 2 cores). */
const SERVER_START_MS = 60_000;
/** A killed server's listening socket closed (the kernel tears the process down). */
const PORT_FREE_MS = 10_000;
/**
 * The deadline of a session whose server is frozen mid-turn: room for its answer to start
 * streaming first (a loaded machine's fresh server took over 10 s once) and the server to be found
 * UNHEALTHY before it.
 */
const FROZEN_TIMEOUT_SECONDS = 20;
/** Deadline + abort settle (5 s) + the messages request timing out (15 s) + room for a loaded machine. */
const FROZEN_END_MS = (FROZEN_TIMEOUT_SECONDS + 5 + 15 + 20) * 1000;

interface SessionView {
  id: string;
  status: string;
  attempt: number;
  opencodeServerId: string | null;
  opencodeSessionId: string | null;
  error: { code: string; message: string } | null;
  result: { summary: string } | null;
}

interface Transition {
  from: string | null;
  to: string;
  reason: string;
  attempt: number;
}

/** Whether nothing listens on 127.0.0.1:`port` (a killed server's socket is closed). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** `pid` and every process below it (a sandboxed server runs in a session of its own below bwrap). */
const tree = (pid: number) => [pid, ...descendantsOf(pid)];

function signal(pids: number[], sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already (a SIGCONT after the fleet killed and replaced it)
    }
  }
}

/** The HTTP API of one test app, with the session helpers every scenario uses. */
class Api {
  private base = '';

  constructor(readonly t: TestApp) {}

  /** Listens on a port of its own: the session stream is read over plain HTTP. */
  async listen(): Promise<void> {
    await this.t.app.listen(0, '127.0.0.1');
    this.base = `http://127.0.0.1:${(this.t.app.getHttpServer().address() as AddressInfo).port}`;
  }

  servers(): FleetServerView[] {
    return this.t.app.get(OpencodeFleet).list().filter((s) => s.state !== 'STOPPED');
  }

  async session(id: string): Promise<SessionView> {
    return (await this.t.http.get(`/api/v1/sessions/${id}`).expect(200)).body as SessionView;
  }

  async start(prompt: string, extra: Record<string, unknown> = {}): Promise<string> {
    const created = await this.t.http
      .post('/api/v1/sessions')
      .send({ title: 'opencode fault e2e', prompt, workspace: makeTempWorkspace(), ...extra })
      .expect(201);
    await this.t.http.post(`/api/v1/sessions/${created.body.id}/start`).expect(202);
    return created.body.id as string;
  }

  /**
   * The session's final state. A run that lost its turn with its server and fails over goes
   * RUNNING → FAILED → QUEUED in one write, so a poll never sees that FAILED: a final state seen
   * here is the end.
   */
  finished(id: string, timeoutMs: number): Promise<SessionView> {
    return waitFor(() => this.session(id), (s) => FINAL.includes(s.status), { timeoutMs, what: `session ${id} to reach a final state` });
  }

  /**
   * The session whose server froze mid-turn ends TIMED_OUT at its deadline, on that server, with a
   * legal history; the session started meanwhile (`waiting`) is not final yet (no server to run it).
   */
  async timedOutWhileFrozen(id: string, serverId: string, waiting: string): Promise<void> {
    const done = await this.finished(id, FROZEN_END_MS);
    expect(done).toMatchObject({
      status: 'TIMED_OUT',
      attempt: 1,
      opencodeServerId: serverId,
      error: { code: 'TIMED_OUT', message: `no result within ${FROZEN_TIMEOUT_SECONDS}s; the OpenCode turn was aborted` },
    });
    expect((await this.legalHistory(id)).map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'TIMED_OUT']);
    expect(FINAL).not.toContain((await this.session(waiting)).status);
  }

  /**
   * Resolves once the session's running turn streams answer text (its `text` events): the model
   * is mid-answer on the OpenCode server, the moment to freeze or kill it.
   */
  streaming(id: string, timeoutMs = STREAM_MS): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        req.destroy();
        void this.session(id).then((s) => reject(new Error(`session ${id} streamed no answer text within ${timeoutMs} ms: ${JSON.stringify(s)}`)), reject);
      }, timeoutMs);
      const req = httpGet(`${this.base}/api/v1/sessions/${id}/stream`, { headers: { accept: 'text/event-stream' } }, (res) => {
        const parser = createParser({
          onEvent: (e) => {
            if ((JSON.parse(e.data) as { type: string }).type !== 'text') return;
            clearTimeout(timer);
            req.destroy();
            resolve();
          },
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
      });
      req.on('error', () => undefined); // destroyed once it has served
    });
  }

  /** The session's history, checked: from PENDING, each transition legal and from where the last one went, ending in `id`'s final state. */
  async legalHistory(id: string): Promise<Transition[]> {
    const history = (await this.t.http.get(`/api/v1/sessions/${id}/events`).expect(200)).body as Transition[];
    expect(history[0]).toMatchObject({ from: null, to: 'PENDING' });
    for (let i = 1; i < history.length; i++) {
      const { from, to } = history[i];
      expect({ step: i, from, to, legal: LEGAL[history[i - 1].to].includes(to) }).toEqual({ step: i, from: history[i - 1].to, to, legal: true });
    }
    expect(FINAL).toContain(history.at(-1)!.to);
    expect(history.at(-1)!.to).toBe((await this.session(id)).status);
    return history;
  }
}

describe('OpenCode frozen or killed mid-turn, through the app', () => {
  describe('one managed server (the worker spawns it; the fleet replaces it)', () => {
    let api: Api;
    let dataDir: string;

    beforeAll(async () => {
      dataDir = mkdtempSync(join(tmpdir(), 'opencode-faults-e2e-'));
      api = new Api(
        await createTestApp({
          env: { OPENCODE_HOST: '', OPENCODE_PASSWORD: '', OPENCODE_MODEL: '', OPENCODE_SERVERS: '1', DATA_DIR: dataDir },
        }),
      );
      await api.listen();
    }, 90_000);
    afterAll(async () => {
      await api?.t.close();
      rmSync(dataDir, { recursive: true, force: true });
    }, 30_000);

    const ready = () =>
      waitFor(async () => api.servers(), (list) => list.length === 1 && list[0].state === 'READY', { timeoutMs: READY_MS, what: 'the managed server READY' });

    it('SIGKILL mid-turn: the fleet replaces the server, the session runs again as attempt 2 on the replacement and completes', async () => {
      const [victim] = await ready();
      const id = await api.start('[[slow 8]][[reply]]survived the kill[[/reply]]');
      await api.streaming(id);
      expect(await api.session(id)).toMatchObject({ status: 'RUNNING', attempt: 1, opencodeServerId: victim.id });
      signal(tree(victim.pid!), 'SIGKILL');

      const done = await api.finished(id, LOST_AND_RERUN_MS);
      // The next generation of its slot: a new id, a new process.
      const successor = successorOf(victim.id);
      expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2, opencodeServerId: successor, error: null, result: { summary: expect.stringMatching(/survived the kill$/) } });
      const history = await api.legalHistory(id);
      expect(history.map((e) => [e.to, e.attempt])).toEqual(FAILED_OVER);
      expect(history[3].reason).toMatch(new RegExp(`^OPENCODE_UNAVAILABLE: .*${victim.id}.*(exited|was lost)`));
      expect(history[4].reason).toMatch(/^failover after its OpenCode server was lost/);
      expect((await ready())[0].id).toBe(successor);
    }, READY_MS + STREAM_MS + LOST_AND_RERUN_MS + READY_MS);

    it(`SIGSTOP mid-turn: TIMED_OUT at the session's deadline, a session started meanwhile completes after SIGCONT`, async () => {
      const [frozen] = await ready();
      const id = await api.start('[[slow 30]]', { timeoutSeconds: FROZEN_TIMEOUT_SECONDS });
      await api.streaming(id);
      const pids = tree(frozen.pid!);
      signal(pids, 'SIGSTOP');
      let waiting = '';
      try {
        await waitFor(async () => api.servers().find((s) => s.id === frozen.id), (s) => s?.state === 'UNHEALTHY', { timeoutMs: UNHEALTHY_MS, what: `${frozen.id} UNHEALTHY` });
        // No server to place it on while the only one is frozen: it waits (up to 60 s) for one.
        waiting = await api.start('[[write after-freeze.txt]]x[[/write]]');

        await api.timedOutWhileFrozen(id, frozen.id, waiting);
      } finally {
        signal(pids, 'SIGCONT');
      }

      // Back READY once it answers (or, frozen past its 30 s UNHEALTHY on a slow machine, replaced): either way it runs sessions.
      const after = await api.finished(waiting, LOST_AND_RERUN_MS);
      expect(after).toMatchObject({ status: 'COMPLETED', error: null });
      await api.legalHistory(waiting);
      const fresh = await api.finished(await api.start('[[write fresh.txt]]x[[/write]]'), SHORT_MS);
      expect(fresh).toMatchObject({ status: 'COMPLETED', attempt: 1, error: null });
    }, READY_MS + STREAM_MS + UNHEALTHY_MS + FROZEN_END_MS + LOST_AND_RERUN_MS + SHORT_MS);

    it('SIGSTOP mid-turn, left frozen: the turn gets no answer, the fleet kills and replaces the server, the session runs again as attempt 2 and completes', async () => {
      const [frozen] = await ready();
      const id = await api.start('[[slow 8]][[reply]]survived the freeze[[/reply]]');
      await api.streaming(id);
      const pids = tree(frozen.pid!);
      signal(pids, 'SIGSTOP');
      try {
        // The turn's silence limit, then the failover on the new server.
        const done = await api.finished(id, SILENCE_MS + LOST_AND_RERUN_MS);
        const successor = successorOf(frozen.id);
        expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2, opencodeServerId: successor, error: null, result: { summary: expect.stringMatching(/survived the freeze$/) } });
        const history = await api.legalHistory(id);
        expect(history.map((e) => [e.to, e.attempt])).toEqual(FAILED_OVER);
        // Replaced when the turn's silence limit ran out (or, the limit a little later, by the fleet's 30 s UNHEALTHY grace).
        expect(history[3].reason).toMatch(new RegExp(`^OPENCODE_UNAVAILABLE: the OpenCode server ${frozen.id} was lost: the server was stopped \\(unhealthy`));
        expect(history[4].reason).toMatch(/^failover after its OpenCode server was lost/);
        expect(api.servers().map((s) => s.id)).toEqual([successor]);
      } finally {
        signal(pids, 'SIGCONT'); // killed by the fleet already: nothing left to continue
      }
    }, READY_MS + STREAM_MS + SILENCE_MS + LOST_AND_RERUN_MS);
  });

  describe('an external server (OPENCODE_HOST: someone else runs it and restarts it)', () => {
    let api: Api;
    let server: ManagedOpencodeServer;
    let serverDir: string;
    const password = randomBytes(12).toString('hex');

    /**
     * Like the shared test server (opencode-test-server.ts), but this file's own, frozen and killed
     * here. Its own health check is off (a frozen server stays frozen until SIGCONT), and it is
     * restarted by the test, as a supervisor would, on the same port with the same data.
     */
    async function startServer(port?: number): Promise<ManagedOpencodeServer> {
      const started = new ManagedOpencodeServer({
        dataDir: serverDir,
        port,
        parentEnv: process.env,
        sandbox: 'auto',
        writableRoots: [tmpdir()],
        protectedDirs: [join(__dirname, '..', '..', '..')],
        password,
        stopGraceMs: 1_000,
        startupTimeoutMs: SERVER_START_MS,
        healthIntervalMs: 3_600_000,
        logger: { log: () => undefined, warn: () => undefined, error: (message) => console.error(`[private opencode server] ${message}`) },
      });
      await started.start();
      return started;
    }

    /** SIGKILL of the server's whole process tree, and no restart of its own. */
    async function killServer(): Promise<number> {
      const port = Number(new URL(server.endpoint().baseUrl).port);
      signal(tree(server.pid!), 'SIGKILL');
      await server.stop();
      return port;
    }

    beforeAll(async () => {
      serverDir = mkdtempSync(join(tmpdir(), 'opencode-faults-external-'));
      server = await startServer();
      const url = new URL(server.endpoint().baseUrl);
      api = new Api(
        await createTestApp({
          env: { OPENCODE_HOST: url.hostname, OPENCODE_PORT: url.port, OPENCODE_PASSWORD: password, OPENCODE_MODEL: server.defaultModel, OPENCODE_SERVERS: '0' },
        }),
      );
      await api.listen();
      // Its first turn pays for loading the provider: not inside a frozen session's short timeout.
      expect(await api.finished(await api.start('[[write warm.txt]]x[[/write]]'), SHORT_MS)).toMatchObject({ status: 'COMPLETED' });
    }, SERVER_START_MS + 60_000 + SHORT_MS);
    afterAll(async () => {
      await api?.t.close();
      await server?.stop();
      rmSync(serverDir, { recursive: true, force: true });
    }, 30_000);

    const ready = () =>
      waitFor(async () => api.servers(), (list) => list.length === 1 && list[0].state === 'READY', { timeoutMs: READY_MS, what: 'the external server READY' });

    it(`SIGSTOP mid-turn: TIMED_OUT at the session's deadline, a session started meanwhile completes after SIGCONT`, async () => {
      const [external] = await ready();
      expect(external).toMatchObject({ managed: false, pid: null });
      const id = await api.start('[[slow 30]]', { timeoutSeconds: FROZEN_TIMEOUT_SECONDS });
      await api.streaming(id);
      const pids = tree(server.pid!);
      signal(pids, 'SIGSTOP');
      let waiting = '';
      try {
        await waitFor(async () => api.servers()[0], (s) => s.state === 'UNHEALTHY', { timeoutMs: UNHEALTHY_MS, what: `${external.id} UNHEALTHY` });
        waiting = await api.start('[[write after-freeze.txt]]x[[/write]]');

        await api.timedOutWhileFrozen(id, external.id, waiting);
        // An external server is not ours to replace: still listed, UNHEALTHY.
        expect(api.servers()).toEqual([expect.objectContaining({ id: external.id, state: 'UNHEALTHY' })]);
      } finally {
        signal(pids, 'SIGCONT');
      }

      expect((await ready())[0].id).toBe(external.id);
      const after = await api.finished(waiting, SHORT_MS);
      expect(after).toMatchObject({ status: 'COMPLETED', attempt: 1, opencodeServerId: external.id, error: null });
      await api.legalHistory(waiting);
      const fresh = await api.finished(await api.start('[[write fresh.txt]]x[[/write]]'), SHORT_MS);
      expect(fresh).toMatchObject({ status: 'COMPLETED', attempt: 1, opencodeServerId: external.id, error: null });
    }, READY_MS + STREAM_MS + UNHEALTHY_MS + FROZEN_END_MS + READY_MS + 2 * SHORT_MS);

    it('SIGKILL mid-turn, restarted by whoever runs it: the turn is found lost and runs again as attempt 2 (or, not answered in time, FAILED), and the restarted server runs sessions', async () => {
      const [external] = await ready();
      const id = await api.start('[[slow 8]][[reply]]survived the restart[[/reply]]');
      await api.streaming(id);
      const port = await killServer();
      await waitFor(() => portIsFree(port), Boolean, { timeoutMs: PORT_FREE_MS, what: `port ${port} free` });
      server = await startServer(port); // back, with its data, where the app looks for it

      const done = await api.finished(id, LOST_AND_RERUN_MS);
      const history = await api.legalHistory(id);
      if (done.status === 'COMPLETED') {
        // The restarted server has the session but not the turn: lost, and safe to run again (no tool ran).
        expect(done).toMatchObject({ attempt: 2, opencodeServerId: external.id, error: null, result: { summary: expect.stringMatching(/survived the restart$/) } });
        expect(history.map((e) => [e.to, e.attempt])).toEqual(FAILED_OVER);
        expect(history[3].reason).toMatch(/^OPENCODE_SESSION_LOST: /);
        expect(history[4].reason).toMatch(/^failover after its OpenCode server was lost/);
      } else {
        // A loaded machine: the restarted server took longer than the turn's 30 s silence limit to
        // answer for the directory again. Not replaced (not ours) nor retried: it may still have the turn.
        expect(done).toMatchObject({
          status: 'FAILED',
          attempt: 1,
          error: { code: 'OPENCODE_UNAVAILABLE', message: expect.stringMatching(/^OpenCode did not answer for \d+ s: /) },
        });
        expect(history.map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'FAILED']);
      }
      await ready();
      const fresh = await api.finished(await api.start('[[write fresh.txt]]x[[/write]]'), SHORT_MS);
      expect(fresh).toMatchObject({ status: 'COMPLETED', attempt: 1, opencodeServerId: external.id, error: null });
    }, READY_MS + STREAM_MS + PORT_FREE_MS + SERVER_START_MS + LOST_AND_RERUN_MS + READY_MS + SHORT_MS);

    it('SIGKILL mid-turn, and the server stays down: FAILED OPENCODE_UNAVAILABLE after the 30 s silence limit, not retried', async () => {
      const [external] = await ready();
      const id = await api.start('[[slow 8]]');
      await api.streaming(id);
      await killServer(); // and nobody brings it back

      const done = await api.finished(id, SILENCE_MS);
      expect(done).toMatchObject({
        status: 'FAILED',
        attempt: 1,
        opencodeServerId: external.id,
        error: { code: 'OPENCODE_UNAVAILABLE', message: expect.stringMatching(/^OpenCode did not answer for \d+ s: /) },
      });
      expect((await api.legalHistory(id)).map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'FAILED']);
      expect(api.servers()).toEqual([expect.objectContaining({ id: external.id, state: 'UNHEALTHY' })]);
    }, READY_MS + STREAM_MS + SILENCE_MS);
  });
});

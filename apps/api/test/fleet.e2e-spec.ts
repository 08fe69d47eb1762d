import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendantsOf, FleetServerView, OpencodeFleet } from '@app/opencode';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

interface SessionView {
  id: string;
  status: string;
  attempt: number;
  opencodeServerId: string | null;
  error: { code: string; message: string } | null;
}

/** `pid` and every process below it (a sandboxed server runs in a session of its own below bwrap). */
const tree = (pid: number) => [pid, ...descendantsOf(pid)];

/**
 * The app with a worker whose fleet is two managed `opencode serve` processes of its own (the
 * rehearsal provider, no external server): runs spread over both, a server SIGKILLed mid-turn
 * whose session runs again on the other as attempt 2 and completes (the server replaced by the next
 * generation of its slot), and a
 * server frozen with SIGSTOP: UNHEALTHY, new sessions complete on the other, SIGCONT brings it back.
 */
describe('OpenCode fleet through the app (two managed servers)', () => {
  let t: TestApp;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'fleet-e2e-'));
    t = await createTestApp({
      env: { OPENCODE_HOST: '', OPENCODE_PASSWORD: '', OPENCODE_MODEL: '', OPENCODE_SERVERS: '2', DATA_DIR: dataDir, MAX_CONCURRENT_SESSIONS: '6' },
    });
  }, 120_000);
  afterAll(async () => {
    await t?.close();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  const servers = () => t.app.get(OpencodeFleet).list().filter((s) => s.state !== 'STOPPED');
  const session = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body as SessionView;
  async function start(prompt: string, workspace = makeTempWorkspace()): Promise<string> {
    const created = await t.http.post('/api/v1/sessions').send({ title: 'fleet e2e', prompt, workspace }).expect(201);
    await t.http.post(`/api/v1/sessions/${created.body.id}/start`).expect(202);
    return created.body.id as string;
  }
  const finished = (id: string, timeoutMs = 60_000) => waitFor(() => session(id), (s) => FINAL.includes(s.status), { timeoutMs, what: `session ${id} to finish` });
  const bothReady = () => waitFor(async () => servers(), (list) => list.length === 2 && list.every((s) => s.state === 'READY'), { timeoutMs: 60_000, what: 'two READY servers' });

  it('spreads sessions over both servers and records where each ran', async () => {
    const ids = await Promise.all([1, 2, 3, 4].map((i) => start(`[[slow 2]][[write f${i}.txt]]x[[/write]]`)));
    const done = await Promise.all(ids.map((id) => finished(id)));
    expect(done.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED', 'COMPLETED']);
    const used = new Set(done.map((s) => s.opencodeServerId));
    expect([...used].sort()).toEqual(servers().map((s) => s.id).sort());
  }, 120_000);

  it("sends a directory's sessions back to the server that has it loaded", async () => {
    await bothReady();
    const workspace = makeTempWorkspace();
    const first = await finished(await start('[[write a.txt]]x[[/write]]', workspace));
    const again = await Promise.all([1, 2, 3].map(async (i) => finished(await start(`[[write b${i}.txt]]x[[/write]]`, workspace))));
    expect([first, ...again].map((s) => [s.status, s.opencodeServerId])).toEqual(Array(4).fill(['COMPLETED', first.opencodeServerId]));
  }, 120_000);

  it('runs a session lost with its SIGKILLed server again on the other as attempt 2, and has the pool whole again', async () => {
    await bothReady();
    const id = await start('[[slow 6]]');
    const running = await waitFor(() => session(id), (s) => s.opencodeServerId !== null, { timeoutMs: 20_000, what: 'the turn to be placed' });
    const victim = servers().find((s) => s.id === running.opencodeServerId)!;
    expect(victim).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    tree(victim.pid!).forEach((pid) => process.kill(pid, 'SIGKILL'));

    const done = await finished(id, 90_000);
    const history = (await t.http.get(`/api/v1/sessions/${id}/events`).expect(200)).body as Array<{ to: string; reason: string; attempt: number }>;
    // Retried elsewhere (the usual end: a shared turn that ran no tool is safe to run again), or
    // FAILED OPENCODE_UNAVAILABLE (seen once on a heavily loaded CI run); never stuck, never another failure.
    if (done.status === 'COMPLETED') {
      expect(done).toMatchObject({ attempt: 2 });
      expect(done.opencodeServerId).not.toBe(victim.id);
      expect(history).toContainEqual(expect.objectContaining({ to: 'FAILED', attempt: 1 }));
      expect(history).toContainEqual(expect.objectContaining({ to: 'QUEUED', reason: expect.stringMatching(/^failover after its OpenCode server was lost/) }));
    } else {
      expect(done).toMatchObject({ status: 'FAILED', error: { code: 'OPENCODE_UNAVAILABLE', message: expect.stringContaining(victim.id) } });
    }
    // The victim replaced by the next generation of its slot (a new id, a new process): the pool is whole again.
    const whole = await bothReady();
    expect(whole.map((s) => s.id)).not.toContain(victim.id);
    expect(whole.map((s) => s.id)).toContain(victim.id.replace(/g(\d+)$/, (_, g: string) => `g${Number(g) + 1}`));
  }, 180_000);

  it('takes a frozen server (SIGSTOP) out of placement: UNHEALTHY, new sessions complete on the other, SIGCONT brings it back', async () => {
    const [frozen, other] = await bothReady();
    const pids = tree(frozen.pid!);
    pids.forEach((pid) => process.kill(pid, 'SIGSTOP'));
    try {
      await waitFor(async () => servers().find((s) => s.id === frozen.id), (s) => s?.state === 'UNHEALTHY', { timeoutMs: 15_000, what: `${frozen.id} UNHEALTHY` });
      const listed = (await t.http.get('/api/v1/servers').expect(200)).body.items as FleetServerView[];
      expect(listed.find((s) => s.id === frozen.id)?.state).toBe('UNHEALTHY');
      const ids = await Promise.all([1, 2].map((i) => start(`[[write g${i}.txt]]x[[/write]]`)));
      const done = await Promise.all(ids.map((id) => finished(id)));
      expect(done.map((s) => [s.status, s.opencodeServerId])).toEqual([
        ['COMPLETED', other.id],
        ['COMPLETED', other.id],
      ]);
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          // gone: frozen past 30 s (a loaded machine), the fleet killed and replaced it
        }
      }
    }
    // Back READY once it answers; or, frozen past 30 s, killed and replaced by the next generation of its slot.
    const slot = frozen.id.replace(/g\d+$/, '');
    const back = await bothReady();
    expect(back.some((s) => s.id === frozen.id || (s.id.startsWith(slot) && s.id !== frozen.id))).toBe(true);
  }, 120_000);
});

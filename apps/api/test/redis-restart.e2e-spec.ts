import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, TestApp } from '../../../test/support/app';
import { ensureRedisUp, restartRedis } from '../../../test/support/redis-restart';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Redis restarts mid-run and, keeping nothing on disk, loses the queue, the locks and the
 * job of the running session. The running session still completes (its worker lives and
 * records it), and the app keeps working afterwards.
 */
describe('Redis restarted while a session runs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(async () => {
    await ensureRedisUp();
    await t.close();
  });

  it('completes the running session and serves new ones after the restart', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'e2e-redis-'));
    const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
    const first = (await t.http.post('/api/v1/sessions').send({ title: 'through a restart', workspace, prompt: '[[slow 6]][[write a.txt]]a[[/write]]' }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${first.id}/start`).expect(202);
    await waitFor(() => get(first.id), (s) => s.status === 'RUNNING' && s.opencodeSessionId !== null, { what: 'running' });

    await restartRedis();
    const restartedAt = Date.now();
    expect((await get(first.id)).status).toBe('RUNNING'); // the restart happened mid-turn

    const done = await waitFor(() => get(first.id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: 'first finished' });
    expect(done.status).toBe('COMPLETED');
    expect(Date.parse(done.finishedAt)).toBeGreaterThan(restartedAt);
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('a');

    const second = (await t.http.post('/api/v1/sessions').send({ title: 'after the restart', workspace, prompt: '[[write b.txt]]b[[/write]]' }).expect(201)).body;
    await waitFor(async () => (await t.http.post(`/api/v1/sessions/${second.id}/start`)).status, (code) => code === 202, {
      what: 'start accepted once Redis is back',
    });
    const after = await waitFor(() => get(second.id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: 'second finished' });
    expect(after.status).toBe('COMPLETED');
  }, 120_000);
});

import { readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { startRedisServer, TestRedisServer } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Redis restarts mid-run and, keeping nothing on disk, loses the queue, the locks and the
 * job of the running session. The running session's worker lives, but its workspace lock is
 * gone (another session could be granted the workspace now), so it stops the OpenCode turn
 * and records FAILED WORKSPACE_LOCK_LOST rather than write on unguarded. Retried, it completes;
 * new sessions run as before. The app (API and worker) runs on a redis-server of this file's
 * own, which the test kills and starts again: the machine's shared Redis is never touched.
 */
describe('Redis restarted while a session runs', () => {
  let redis: TestRedisServer;
  let t: TestApp;
  beforeAll(async () => {
    redis = await startRedisServer();
    t = await createTestApp({ env: redis.env() });
  });
  afterAll(async () => {
    await redis?.ensureRunning(); // the app closes cleanly only while its Redis answers
    await t?.close();
    await redis?.stop();
  });

  it('stops the running session with WORKSPACE_LOCK_LOST, and retries and new sessions run after the restart', async () => {
    const workspace = makeTempWorkspace();
    const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
    const first = (await t.http.post('/api/v1/sessions').send({ title: 'through a restart', workspace, prompt: '[[slow 12]][[write a.txt]]a[[/write]]' }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${first.id}/start`).expect(202);
    await waitFor(() => get(first.id), (s) => s.status === 'RUNNING' && s.opencodeSessionId !== null, { what: 'running' });

    await redis.restart();
    const restartedAt = Date.now();
    expect((await get(first.id)).status).toBe('RUNNING'); // the restart happened mid-turn

    const stopped = await waitFor(() => get(first.id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: 'first stopped' });
    expect(stopped.status).toBe('FAILED');
    expect(stopped.error.code).toBe('WORKSPACE_LOCK_LOST');
    expect(stopped.error.message).toContain(`workspace:${realpathSync(workspace)}`);
    expect(Date.parse(stopped.finishedAt)).toBeGreaterThan(restartedAt);
    // Stopped on the lost lock (its renewal within a few seconds), not when the 12 s answer would have ended the turn.
    expect(Date.parse(stopped.finishedAt) - restartedAt).toBeLessThan(10_000);

    await waitFor(async () => (await t.http.post(`/api/v1/sessions/${first.id}/retry`)).status, (code) => code === 202, {
      what: 'retry accepted once Redis is back',
    });
    const retried = await waitFor(() => get(first.id), (s) => s.attempt === 2 && FINAL.includes(s.status), {
      timeoutMs: 45_000,
      what: 'first retried',
    });
    expect({ status: retried.status, error: retried.error }).toEqual({ status: 'COMPLETED', error: null });
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('a');

    const second = (await t.http.post('/api/v1/sessions').send({ title: 'after the restart', workspace, prompt: '[[write b.txt]]b[[/write]]' }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${second.id}/start`).expect(202);
    const after = await waitFor(() => get(second.id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: 'second finished' });
    expect(after.status).toBe('COMPLETED');
  }, 150_000);
});

import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Waiting for a workspace holds no worker slot. With MAX_CONCURRENT_SESSIONS=2, one session runs
 * on workspace W and stays RUNNING, its turn waiting for an approval (W's opencode.json asks before
 * an edit) until the test answers it, so nothing here races the machine's speed. A second session
 * on W waits for it, its place kept in W's lock queue and its job delayed. A session on another
 * workspace V still gets the second worker slot and completes meanwhile. Once the first is
 * approved and done, the waiting one runs.
 */
describe('Admission: a session waiting for its workspace holds no worker slot', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_CONCURRENT_SESSIONS: '2', APPROVAL_TIMEOUT_SECONDS: '600' } });
  });
  afterAll(() => t.close());

  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
  const createAndStart = async (title: string, workspace: string, prompt: string) => {
    const { id } = (await t.http.post('/api/v1/sessions').send({ title, workspace, prompt, timeoutSeconds: 600 }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    return id as string;
  };
  const lockOf = async (resource: string) => ((await t.http.get('/api/v1/locks').expect(200)).body.locks as any[]).find((l) => l.resource === resource);

  it('runs a session on another workspace to COMPLETED while one waits for a busy workspace, then the waiting one after the first', async () => {
    const w = makeTempWorkspace();
    writeFileSync(join(w, 'opencode.json'), JSON.stringify({ permission: { edit: 'ask' } }));
    const v = makeTempWorkspace();
    const resource = `workspace:${realpathSync(w)}`;

    const first = await createAndStart('holds W until approved', w, '[[write a.txt]]1[[/write]]');
    const [pending] = await waitFor(
      async () => (await t.http.get('/api/v1/approvals').query({ status: 'PENDING', sessionId: first }).expect(200)).body.items as any[],
      (items) => items.length > 0,
      { timeoutMs: 60_000, what: 'the first session waiting for its approval' },
    );
    expect((await get(first)).status).toBe('RUNNING');

    const waiting = await createAndStart('waits for W', w, '[[reply]]second[[/reply]]');
    const queue = await waitFor(() => lockOf(resource), (l) => l?.waiters.length === 1, { what: 'the second session keeping its place in the queue of W' });
    expect(queue.holder.owner).toBe(`session:${first}`);
    expect(queue.waiters[0]).toMatchObject({ owner: `session:${waiting}`, position: 1 });

    // The second worker slot is free: a session on V runs and completes while W stays busy.
    const other = await createAndStart('on V', v, '[[write c.txt]]3[[/write]]');
    const otherDone = await waitFor(() => get(other), (s) => FINAL.includes(s.status), { timeoutMs: 90_000, what: 'the session on V done' });
    expect(otherDone.status).toBe('COMPLETED');
    expect((await get(first)).status).toBe('RUNNING');
    expect(await get(waiting)).toMatchObject({ status: 'QUEUED', startedAt: null });
    expect((await lockOf(resource)).waiters).toEqual([expect.objectContaining({ owner: `session:${waiting}` })]);

    await t.http.post(`/api/v1/approvals/${pending.id}`).send({ decision: 'allow' }).expect(200);
    const [a, b] = await waitFor(
      () => Promise.all([get(first), get(waiting)]),
      (both) => both.every((s) => FINAL.includes(s.status)),
      { timeoutMs: 90_000, what: 'both sessions on W done' },
    );
    expect([a.status, b.status]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(existsSync(join(w, 'a.txt'))).toBe(true);
    expect(b.attempt).toBe(1); // waiting spent no attempt
    expect(b.result.summary).toContain('second');
    expect(Date.parse(b.startedAt)).toBeGreaterThanOrEqual(Date.parse(a.finishedAt));
    expect(await lockOf(resource)).toBeUndefined();
  });
});

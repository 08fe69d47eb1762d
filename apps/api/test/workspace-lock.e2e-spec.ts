import { realpathSync } from 'node:fs';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/** A running session holds workspace:<path>; a second session on that workspace waits QUEUED, in turn. */
describe('Workspace lock', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
  const createAndStart = async (title: string, workspace: string, prompt: string) => {
    const { id } = (await t.http.post('/api/v1/sessions').send({ title, workspace, prompt }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    return id as string;
  };

  it('runs two sessions on one workspace one after the other, and others alongside; GET /locks shows who waits', async () => {
    const shared = makeTempWorkspace();
    const elsewhere = makeTempWorkspace();
    // Long enough that the session on the other workspace ends first even on a loaded machine.
    const first = await createAndStart('first', shared, '[[slow 15]][[write a.txt]]1[[/write]]');
    await waitFor(() => get(first), (s) => s.status === 'RUNNING', { what: 'first running' });
    const second = await createAndStart('second', shared, '[[write b.txt]]2[[/write]]');
    const other = await createAndStart('other workspace', elsewhere, '[[write c.txt]]3[[/write]]');

    const resource = `workspace:${realpathSync(shared)}`;
    const lock = await waitFor(
      async () => ((await t.http.get('/api/v1/locks').expect(200)).body.locks as any[]).find((l) => l.resource === resource),
      (l) => l?.waiters.length === 1,
      { what: 'the second session waiting for the workspace' },
    );
    expect(lock.holder).toMatchObject({ owner: `session:${first}`, fence: expect.any(Number) });
    expect(lock.holder.expiresInMs).toBeGreaterThan(0);
    expect(lock.waiters).toEqual([{ owner: `session:${second}`, position: 1, waitingMs: expect.any(Number) }]);

    // A session on another workspace is not held back by it.
    const otherDone = await waitFor(() => get(other), (s) => FINAL.includes(s.status), { timeoutMs: 15_000, what: 'other done' });
    expect(otherDone.status).toBe('COMPLETED');
    expect((await get(first)).status).toBe('RUNNING');
    expect((await get(second)).status).toBe('QUEUED');

    const [a, b] = await waitFor(
      () => Promise.all([get(first), get(second)]),
      (both) => both.every((s) => FINAL.includes(s.status)),
      { timeoutMs: 60_000, what: 'both done' },
    );
    expect([a.status, b.status]).toEqual(['COMPLETED', 'COMPLETED']);
    expect(Date.parse(b.startedAt)).toBeGreaterThanOrEqual(Date.parse(a.finishedAt));
    const locks = (await t.http.get('/api/v1/locks').expect(200)).body.locks as any[];
    expect(locks.find((l) => l.resource === resource)).toBeUndefined();
  }, 120_000);

  it('a queued session cancelled while it waits for the workspace never runs', async () => {
    const shared = makeTempWorkspace();
    const first = await createAndStart('holder', shared, '[[slow 3]]');
    await waitFor(() => get(first), (s) => s.status === 'RUNNING', { what: 'holder running' });
    const second = await createAndStart('waiter', shared, '[[write never.txt]]x[[/write]]');
    const resource = `workspace:${realpathSync(shared)}`;
    await waitFor(
      async () => ((await t.http.get('/api/v1/locks')).body.locks as any[]).find((l) => l.resource === resource),
      (l) => l?.waiters.length === 1,
      { what: 'waiter queued' },
    );
    const cancelled = (await t.http.post(`/api/v1/sessions/${second}/cancel`).expect(202)).body;
    expect(cancelled.status).toBe('CANCELLED');
    await waitFor(
      async () => ((await t.http.get('/api/v1/locks')).body.locks as any[]).find((l) => l.resource === resource),
      (l) => !l || l.waiters.length === 0,
      { what: 'waiter gone from the queue' },
    );
    await waitFor(() => get(first), (s) => FINAL.includes(s.status), { timeoutMs: 30_000, what: 'holder done' });
    expect((await get(second)).startedAt).toBeNull();
  });
});

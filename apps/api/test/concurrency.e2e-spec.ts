import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

describe('MAX_CONCURRENT_SESSIONS', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_CONCURRENT_SESSIONS: '1' } });
  });
  afterAll(() => t.close());

  it('keeps extra sessions QUEUED until a running one finishes', async () => {
    const ids: string[] = [];
    for (const title of ['first', 'second']) {
      // Two workspaces, so that only the concurrency limit (not the workspace lock) holds the second back.
      const workspace = makeTempWorkspace();
      const res = await t.http.post('/api/v1/sessions').send({ title, workspace, prompt: '[[slow 3]]' }).expect(201);
      ids.push(res.body.id);
      await t.http.post(`/api/v1/sessions/${res.body.id}/start`).expect(202);
    }
    const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
    const running = await waitFor(
      async () => Promise.all(ids.map(get)),
      (both) => both.some((s) => s.status === 'RUNNING'),
      { what: 'one session running' },
    );
    expect(running.map((s) => s.status).sort()).toEqual(['QUEUED', 'RUNNING']);
    // While the first runs, the second stays QUEUED.
    await new Promise((r) => setTimeout(r, 1000));
    expect((await Promise.all(ids.map(get))).map((s) => s.status).sort()).toEqual(['QUEUED', 'RUNNING']);

    const done = await waitFor(
      async () => Promise.all(ids.map(get)),
      (both) => both.every((s) => s.status === 'COMPLETED'),
      { timeoutMs: 30_000, what: 'both sessions completed' },
    );
    const [a, b] = done.map((s) => ({ start: Date.parse(s.startedAt), end: Date.parse(s.finishedAt) }));
    // One after the other: the runs do not overlap.
    expect(a.end <= b.start || b.end <= a.start).toBe(true);
  });
});

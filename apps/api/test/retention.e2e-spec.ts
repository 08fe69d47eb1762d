import { MAINTENANCE_QUEUE } from '@app/platform';
import { makeTempWorkspace } from '@app/testing';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

/**
 * Retention through the real worker: its maintenance jobs prune what finished more than
 * RETENTION_DAYS ago (finished_at is moved back in time here), in batches, and the API shows it.
 */
describe('Retention (RETENTION_DAYS) in the worker', () => {
  let t: TestApp;
  let db: DataSource;
  let maintenance: Queue;
  const workspace = makeTempWorkspace();

  const session = async (body: Record<string, unknown>) =>
    (await t.http.post('/api/v1/sessions').send({ title: 'retention', workspace, ...body }).expect(201)).body as { id: string };
  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
  const ageBy = (table: 'sessions' | 'plans', ids: string[], days: number) =>
    db.query(`UPDATE ${table} SET finished_at = finished_at - make_interval(days => $2) WHERE id = ANY($1::uuid[])`, [ids, days]);
  const runJob = (name: string) => maintenance.add(name, {}, { removeOnComplete: true });

  beforeAll(async () => {
    t = await createTestApp({ env: { RETENTION_DAYS: '2', RETENTION_BATCH_SIZE: '2' } });
    db = t.app.get(DataSource);
    maintenance = new Queue(MAINTENANCE_QUEUE, { connection: { ...t.config.redis, maxRetriesPerRequest: null }, prefix: t.config.queuePrefix });
  });
  afterAll(async () => {
    await maintenance.close();
    await t.close();
  });

  it("empties old finished sessions' output text and deletes old finished plans; newer ones, the history and unfinished work stay", async () => {
    // A real run to COMPLETED, and sessions cancelled before they ran (their result given here).
    const ran = await session({ prompt: 'Say hi. [[write hi.txt]]hello[[/write]]' });
    await t.http.post(`/api/v1/sessions/${ran.id}/start`).expect(202);
    const done = await waitFor(() => get(ran.id), (s) => s.status === 'COMPLETED', { timeoutMs: 60_000, what: 'the run completed' });
    expect(done.result.summary.length).toBeGreaterThan(0);
    const cancelled = [];
    for (let i = 0; i < 3; i++) {
      const s = await session({ prompt: `never runs ${i}` });
      await t.http.post(`/api/v1/sessions/${s.id}/cancel`).expect(202);
      cancelled.push(s.id);
    }
    await db.query(`UPDATE sessions SET result = '{"summary": "a long answer", "filesChanged": ["a.ts"]}' WHERE id = ANY($1::uuid[])`, [cancelled]);
    const recent = cancelled.pop()!;
    const pending = await session({ prompt: 'waits' });
    const old = [ran.id, ...cancelled];
    await ageBy('sessions', old, 3);

    const plan = (await t.http.post('/api/v1/plans').send({ requirement: 'Add a health endpoint and test it', workspace }).expect(201)).body as { id: string };
    await t.http.post(`/api/v1/plans/${plan.id}/cancel`).expect(202);
    const keptPlan = (await t.http.post('/api/v1/plans').send({ requirement: 'Add a second endpoint', workspace }).expect(201)).body as { id: string };
    await t.http.post(`/api/v1/plans/${keptPlan.id}/cancel`).expect(202);
    await ageBy('plans', [plan.id], 3);
    const historyBefore = (await t.http.get(`/api/v1/sessions/${ran.id}/events`).expect(200)).body;

    await runJob('session-retention');
    await runJob('plan-retention');

    for (const id of old) {
      const pruned = await waitFor(() => get(id), (s) => s.prunedAt !== null, { what: `session ${id} pruned` });
      expect(pruned.result.summary).toBe('');
      expect(pruned.status).toBe(id === ran.id ? 'COMPLETED' : 'CANCELLED');
    }
    expect((await get(ran.id)).result.filesChanged).toEqual(['hi.txt']);
    expect((await get(ran.id)).usage).toEqual(done.usage);
    expect((await t.http.get(`/api/v1/sessions/${ran.id}/events`).expect(200)).body).toEqual(historyBefore);
    expect(await get(recent)).toMatchObject({ prunedAt: null, result: { summary: 'a long answer' } });
    expect(await get(pending.id)).toMatchObject({ status: 'PENDING', prunedAt: null });

    await waitFor(async () => (await t.http.get(`/api/v1/plans/${plan.id}`)).status, (status) => status === 404, { what: 'the old plan deleted' });
    expect(Number((await db.query(`SELECT count(*) AS n FROM plan_tasks WHERE plan_id = $1`, [plan.id]))[0].n)).toBe(0);
    await t.http.get(`/api/v1/plans/${keptPlan.id}`).expect(200);

    const metrics = (await t.http.get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^orchestrator_retention_pruned_total\{kind="session_outputs"\} 3$/m);
    expect(metrics).toMatch(/^orchestrator_retention_pruned_total\{kind="plans"\} 1$/m);
    expect(metrics).toMatch(/^orchestrator_retention_pruned_total\{kind="plan_tasks"\} [1-9]\d*$/m);
  }, 120_000);
});

import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL_PLAN = ['COMPLETED', 'FAILED', 'CANCELLED'];

const task = (key: string, instructions: string, dependsOn: string[] = []) => ({ key, title: `task ${key}`, instructions, role: 'IMPLEMENTER', dependsOn, estimateMinutes: 10 });

/** A plan's budget through HTTP: PATCH with the version, a pause before a task that does not fit, a resume. */
describe('Plan budgets (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_CONCURRENT_SESSIONS: '2' } });
  });
  afterAll(() => t.close());

  const getPlan = async (id: string) => (await t.http.get(`/api/v1/plans/${id}`).expect(200)).body;
  const createPlan = async (tasks: unknown[], budget?: unknown) =>
    (await t.http.post('/api/v1/plans').send({ requirement: 'A small demo change', workspace: makeTempWorkspace(), tasks, ...(budget !== undefined && { budget }) }).expect(201)).body;
  const patch = (id: string, body: object) => t.http.patch(`/api/v1/plans/${id}`).send(body);

  it('changes the budget with the version read: 200, 409 on a stale version, 400 naming the field', async () => {
    const created = await createPlan([task('a', 'Say hi.')], { maxCostUsd: 1 });
    expect(created).toMatchObject({ status: 'DRAFT', version: 1, budget: { maxCostUsd: 1 }, pausedReason: null, spend: { spent: { tokens: 0, costUsd: 0, minutes: 0 }, remaining: { maxCostUsd: 1 } } });
    expect(created.spend.forecast.costUsd).toBeGreaterThan(0);

    const updated = (await patch(created.id, { version: 1, budget: { maxCostUsd: 2, maxMinutes: 30 } }).expect(200)).body;
    expect(updated).toMatchObject({ version: 2, budget: { maxCostUsd: 2, maxMinutes: 30 }, spend: { remaining: { maxCostUsd: 2, maxMinutes: 30 } } });

    const stale = (await patch(created.id, { version: 1, budget: { maxCostUsd: 3 } }).expect(409)).body;
    expect(stale.code).toBe('PLAN_VERSION_CONFLICT');

    const bad = (await patch(created.id, { version: 2, budget: { maxCostUsd: -5 } }).expect(400)).body;
    expect(bad).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'budget.maxCostUsd' } });
    expect(bad.message).toContain('budget.maxCostUsd');
    expect((await patch(created.id, { version: 2, budget: { maxTokens: 10, tokens: 1 } }).expect(400)).body.details).toEqual({ field: 'budget.tokens' });
    expect((await patch(created.id, { version: 2 }).expect(400)).body.details).toEqual({ field: 'budget' });
    expect((await patch(created.id, { budget: null }).expect(400)).body.code).toBe('VALIDATION_FAILED'); // no version
    const badCreate = (await t.http.post('/api/v1/plans').send({ requirement: 'r', workspace: makeTempWorkspace(), tasks: [task('a', 'x')], budget: { maxMinutes: 'ten' } }).expect(400)).body;
    expect(badCreate).toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'budget.maxMinutes' } });

    expect((await patch(created.id, { version: 2, budget: null }).expect(200)).body).toMatchObject({ version: 3, budget: null, spend: { remaining: null } });
  });

  it('pauses before a task whose forecast does not fit (PAUSED, BUDGET); raised and run again, it completes', async () => {
    const created = await createPlan([task('a', '[[write a.ts]]export const a = 1;[[/write]]'), task('b', '[[write b.ts]]export const b = 2;[[/write]]', ['a'])], { maxCostUsd: 0.000001 });
    await t.http.post(`/api/v1/plans/${created.id}/run`).expect(202);
    const paused = await waitFor(() => getPlan(created.id), (p) => p.status === 'PAUSED', { timeoutMs: 30_000, intervalMs: 300, what: 'plan paused' });
    expect(paused).toMatchObject({ pausedReason: 'BUDGET', progress: { byStatus: { PENDING: 2 } } });
    expect(paused.pausedMessage).toMatch(/^task a's forecast .* does not fit what is left of the plan's maxCostUsd/);
    expect(paused.tasks.every((x: any) => x.sessions.length === 0)).toBe(true);
    expect(paused.spend.forecast.costUsd).toBeGreaterThan(0.000001);
    expect((await t.http.get('/api/v1/plans?status=PAUSED').expect(200)).body.items.map((p: any) => p.id)).toContain(created.id);

    await patch(created.id, { version: paused.version, budget: { maxCostUsd: 100 } }).expect(200);
    expect((await getPlan(created.id)).status).toBe('PAUSED'); // raising does not resume
    await t.http.post(`/api/v1/plans/${created.id}/run`).expect(202);
    const done = await waitFor(() => getPlan(created.id), (p) => FINAL_PLAN.includes(p.status), { timeoutMs: 90_000, intervalMs: 500, what: 'plan finished' });
    expect(done).toMatchObject({ status: 'COMPLETED', pausedReason: null, pausedMessage: null, budget: { maxCostUsd: 100 } });
    expect(done.spend.spent.costUsd).toBeGreaterThan(0);
    expect(done.spend.forecast).toEqual({ tokens: 0, costUsd: 0, minutes: 0 });
    expect(done.spend.remaining.maxCostUsd).toBeCloseTo(100 - done.spend.spent.costUsd);
    expect((await patch(created.id, { version: done.version, budget: { maxCostUsd: 5 } }).expect(409)).body.code).toBe('PLAN_INVALID_STATE');
  });
});

import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Cost and capacity control end to end, on the real OpenCode server and the scripted provider:
 * budgets stop a turn from its streamed usage, PROVIDER_LIMITS holds a model while another runs,
 * a 429 sends the run back to the queue without spending its attempt, an exhausted quota fails
 * fast or moves to a fallback model, and the runaway guards stop looping or silent turns.
 */
describe('Cost and capacity control', () => {
  let t: TestApp;
  let workspace: string;

  const create = async (body: Record<string, unknown>) => {
    const res = await t.http.post('/api/v1/sessions').send({ title: 'cost', workspace, isolation: 'shared', ...body });
    expect(res.status).toBe(201);
    return res.body as { id: string };
  };
  const start = async (body: Record<string, unknown>) => {
    const session = await create(body);
    await t.http.post(`/api/v1/sessions/${session.id}/start`).expect(202);
    return session.id;
  };
  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
  const settled = (id: string, timeoutMs = 60_000) => waitFor(() => get(id), (s) => FINAL.includes(s.status), { timeoutMs, what: `${id} to end` });
  const history = async (id: string) => ((await t.http.get(`/api/v1/sessions/${id}/events`)).body as Array<{ to: string; reason: string; attempt: number }>);
  const clearMark = (model: string) => t.http.delete(`/api/v1/capacity/marks/${encodeURIComponent(model)}`);

  beforeAll(async () => {
    t = await createTestApp({
      env: {
        PROVIDER_LIMITS: 'rehearsal/alt=concurrency:1',
        DOOM_LOOP_REPEATS: '8',
        NO_PROGRESS_SECONDS: '15',
        TURN_MAX_STEPS: '60',
      },
    });
  });
  afterAll(() => t.close());
  beforeEach(() => {
    workspace = makeTempWorkspace();
  });
  // A test that marks a model out of quota leaves it usable for the next one, pass or fail.
  afterEach(async () => {
    for (const model of ['rehearsal/scripted', 'rehearsal/alt', 'rehearsal/fallback']) await clearMark(model);
  });

  it('stops a session looping on tool calls at its token budget: FAILED BUDGET_EXCEEDED with the usage at the stop', async () => {
    const id = await start({ prompt: 'Loop. [[loop 1000]]', budget: { maxTokens: 12_000 } });
    const done = await settled(id);
    expect(done).toMatchObject({ status: 'FAILED', attempt: 1, budget: { maxTokens: 12_000 }, error: { code: 'BUDGET_EXCEEDED' } });
    expect(done.error.message).toMatch(/session .*maxTokens/);
    const tokens = done.usage.inputTokens + done.usage.outputTokens + done.usage.reasoningTokens + done.usage.cacheReadTokens + done.usage.cacheWriteTokens;
    expect(tokens).toBeGreaterThanOrEqual(12_000);
    // Stopped at the first step past the budget, long before the doom-loop guard's 4 calls would have mattered... or right at it.
    expect((await history(id)).filter((e) => e.to === 'RUNNING')).toHaveLength(1);
  });

  it('holds a model at its PROVIDER_LIMITS concurrency while a session on another model runs at once', async () => {
    // Each in a workspace of its own: a shared workspace admits one session at a time anyway.
    const first = await start({ prompt: 'Slow on alt. [[slow 90]]', model: 'rehearsal/alt', workspace: makeTempWorkspace() });
    await waitFor(() => get(first), (s) => s.status === 'RUNNING', { what: 'first alt session running' });
    const second = await start({ prompt: 'Second on alt.', model: 'rehearsal/alt', workspace: makeTempWorkspace() });
    const other = await start({ prompt: 'On the default model.', workspace: makeTempWorkspace() });
    const otherDone = await settled(other);
    expect(otherDone).toMatchObject({ status: 'COMPLETED', error: null });
    // The second alt session waited QUEUED (no worker slot held) while the first still ran.
    const [firstNow, secondNow] = [await get(first), await get(second)];
    expect(firstNow.status).toBe('RUNNING');
    expect(secondNow.status).toBe('QUEUED');
    const capacity = (await t.http.get('/api/v1/capacity')).body;
    expect(capacity.rules).toEqual([expect.objectContaining({ pattern: 'rehearsal/alt', concurrency: expect.objectContaining({ limit: 1, inUse: 1, holders: [first] }) })]);
    // The slot frees when the first ends (cancelled here): the second runs then.
    await t.http.post(`/api/v1/sessions/${first}/cancel`).expect(202);
    const [a, b] = [await settled(first), await settled(second)];
    expect(a.status).toBe('CANCELLED');
    expect(b.status).toBe('COMPLETED');
    expect(new Date(b.startedAt).getTime()).toBeGreaterThanOrEqual(new Date(a.finishedAt).getTime() - 1000);
  });

  it('puts a rate-limited run back in the queue after its Retry-After without spending an attempt, then completes', async () => {
    const id = await start({ prompt: 'Busy provider. [[rate-limit 2]]' });
    const done = await settled(id);
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1 });
    const events = await history(id);
    expect(events.map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'QUEUED', 'RUNNING', 'COMPLETED']);
    expect(events[3].reason).toMatch(/rate-limited .*attempt not spent/);
    const metrics = (await t.http.get('/metrics')).text;
    expect(metrics).toMatch(/orchestrator_provider_rate_limits_total\{model="rehearsal\/scripted"\} [1-9]/);
  });

  it('fails fast with PROVIDER_QUOTA_EXHAUSTED and marks the model unavailable', async () => {
    const asked = Date.now();
    const id = await start({ prompt: 'No quota. [[quota scripted]]' });
    const done = await settled(id, 30_000);
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'PROVIDER_QUOTA_EXHAUSTED' } });
    expect(Date.now() - asked).toBeLessThan(20_000);
    const capacity = (await t.http.get('/api/v1/capacity')).body;
    expect(JSON.stringify(capacity.marks)).toContain('rehearsal/scripted');
    // A second session on the model fails at once, before any turn.
    const again = await settled(await start({ prompt: 'Still no quota.' }), 15_000);
    expect(again).toMatchObject({ status: 'FAILED', error: { code: 'PROVIDER_QUOTA_EXHAUSTED' }, opencodeSessionId: null });
    expect((await clearMark('rehearsal/scripted')).status).toBe(204);
  });

  it('moves a session of an agent with a fallback model to it when the primary is out of quota, and records the model that ran', async () => {
    const agent = await t.http
      .post('/api/v1/agents')
      .send({
        name: `fallback-${Date.now()}`,
        role: 'IMPLEMENTER',
        capabilities: [{ skill: 'typescript', level: 5 }],
        binding: { opencodeAgent: 'build', model: 'rehearsal/scripted', fallbackModels: ['rehearsal/fallback'] },
      })
      .expect(201);
    const id = await start({ prompt: 'Primary has no quota. [[quota scripted]]', agentId: agent.body.id });
    const done = await settled(id);
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 1, model: 'rehearsal/scripted', modelUsed: 'rehearsal/fallback' });
    const text = (await t.http.get('/metrics')).text;
    expect(text).toMatch(/orchestrator_model_fallbacks_total\{from="rehearsal\/scripted",to="rehearsal\/fallback"\} [1-9]/);
    await clearMark('rehearsal/scripted');
  });

  it('stops a turn at its agent binding maxSteps with STEP_LIMIT', async () => {
    const agent = await t.http
      .post('/api/v1/agents')
      .send({ name: `steps-${Date.now()}`, role: 'IMPLEMENTER', capabilities: [{ skill: 'typescript', level: 5 }], binding: { opencodeAgent: 'build', maxSteps: 3 } })
      .expect(201);
    const done = await settled(await start({ prompt: 'Many steps. [[steps 20]]', agentId: agent.body.id }));
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'STEP_LIMIT' } });
    expect(done.error.message).toContain('maxSteps 3');
  });

  it('stops the same tool call repeated DOOM_LOOP_REPEATS (8) times with DOOM_LOOP', async () => {
    const done = await settled(await start({ prompt: 'Loop for ever. [[loop 1000]]' }));
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'DOOM_LOOP' } });
    expect(done.error.message).toContain('bash');
  });

  it('stops a turn that shows no progress for NO_PROGRESS_SECONDS with NO_PROGRESS', async () => {
    const done = await settled(await start({ prompt: 'Go silent. [[stall 60]]' }));
    expect(done).toMatchObject({ status: 'FAILED', error: { code: 'NO_PROGRESS' } });
    expect(new Date(done.finishedAt).getTime() - new Date(done.startedAt).getTime()).toBeLessThan(45_000);
  });

  it('refuses a bad budget with 400 naming the field, and changes a budget with the version', async () => {
    const bad = await t.http.post('/api/v1/sessions').send({ title: 'x', workspace, prompt: 'p', budget: { maxCostUsd: -1 } });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(bad.body)).toContain('maxCostUsd');
    const session = await create({ prompt: 'p', budget: { maxCostUsd: 1 } });
    const current = await get(session.id);
    const changed = await t.http.patch(`/api/v1/sessions/${session.id}`).send({ version: current.version, budget: { maxTokens: 5000 } });
    expect(changed.status).toBe(200);
    expect(changed.body.budget).toEqual({ maxTokens: 5000 });
    const stale = await t.http.patch(`/api/v1/sessions/${session.id}`).send({ version: current.version, budget: null });
    expect(stale.status).toBe(409);
  });
});

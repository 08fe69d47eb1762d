import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AgentService } from '@app/agent';
import { createTestApp, TestApp } from '../../../test/support/app';

describe('Agents through HTTP', () => {
  let t: TestApp;
  const tag = `e2e-${Date.now().toString(36)}-${process.pid}`;
  /** A skill only this run's agents have, so routing ranks exactly them. */
  const skill = `skill-${tag}`;
  const agent = (name: string, extra: Record<string, unknown> = {}) => ({
    name: `${tag}-${name}`,
    role: 'IMPLEMENTER',
    capabilities: [{ skill, level: 3 }],
    ...extra,
  });
  const create = async (body: Record<string, unknown>) => {
    const res = await t.http.post('/api/v1/agents').send(body);
    expect(res.status).toBe(201);
    return res.body as { id: string; name: string; version: number };
  };

  beforeAll(async () => {
    t = await createTestApp({ withWorker: false });
  });
  afterAll(() => t?.close());

  it('creates, reads, lists, updates with the version read, and soft-deletes', async () => {
    const res = await t.http.post('/api/v1/agents').send(agent('rev', { role: 'REVIEWER', binding: { disabledTools: ['webfetch'] } }));
    expect(res.status).toBe(201);
    const created = res.body;
    expect(created).toMatchObject({
      name: `${tag}-rev`,
      role: 'REVIEWER',
      enabled: true,
      maxConcurrentSessions: 5,
      version: 1,
      capabilities: [{ skill, level: 3 }],
      binding: { opencodeAgent: 'plan', model: null, systemInstructions: '' },
    });
    expect(created.binding.disabledTools).toEqual(['bash', 'edit', 'multiedit', 'patch', 'task', 'webfetch', 'write']);

    expect((await t.http.get(`/api/v1/agents/${created.id}`).expect(200)).body).toEqual(created);
    const reviewers = (await t.http.get('/api/v1/agents?role=REVIEWER&enabled=true').expect(200)).body as Array<{ name: string }>;
    expect(reviewers.map((a) => a.name)).toEqual(expect.arrayContaining(['reviewer', `${tag}-rev`]));
    expect(reviewers.every((a) => (a as unknown as { role: string }).role === 'REVIEWER')).toBe(true);
    const all = (await t.http.get('/api/v1/agents').expect(200)).body as Array<{ name: string }>;
    expect(all.map((a) => a.name)).toEqual(expect.arrayContaining(['architect', 'implementer', 'reviewer', 'debugger']));

    const patched = await t.http
      .patch(`/api/v1/agents/${created.id}`)
      .send({ version: 1, role: 'IMPLEMENTER', maxConcurrentSessions: 2, binding: { model: 'anthropic/claude-sonnet-4' } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ version: 2, role: 'IMPLEMENTER', maxConcurrentSessions: 2 });
    expect(patched.body.binding).toEqual({
      opencodeAgent: 'plan',
      model: 'anthropic/claude-sonnet-4',
      systemInstructions: '',
      disabledTools: ['webfetch'],
      permissions: {},
      fallbackModels: [],
      maxSteps: null,
    });
    expect(patched.body.readOnly).toBe(false);

    const stale = await t.http.patch(`/api/v1/agents/${created.id}`).send({ version: 1, enabled: false });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ statusCode: 409, code: 'AGENT_VERSION_CONFLICT' });

    const taken = await t.http.post('/api/v1/agents').send(agent('REV'));
    expect(taken.status).toBe(409);
    expect(taken.body.code).toBe('AGENT_NAME_TAKEN');

    await t.http.delete(`/api/v1/agents/${created.id}`).expect(204);
    const gone = await t.http.get(`/api/v1/agents/${created.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('AGENT_NOT_FOUND');
    expect((await t.http.delete(`/api/v1/agents/${created.id}`)).status).toBe(404);
    expect((await t.http.get('/api/v1/agents/not-a-uuid')).status).toBe(400);
  });

  it.each([
    ['an unknown role', agent('x', { role: 'WIZARD' }), 'role'],
    ['a level of 6', agent('x', { capabilities: [{ skill: 'sql', level: 6 }] }), 'capabilities.0.level'],
    ['a bad skill tag', agent('x', { capabilities: [{ skill: 'Type Script', level: 3 }] }), 'capabilities.0.skill'],
    ['an unknown field', agent('x', { colour: 'blue' }), 'colour'],
    ['a model without a provider', agent('x', { binding: { model: 'gpt' } }), 'binding.model'],
    ['a permission that is not allow, ask or deny', agent('x', { binding: { permissions: { bash: 'sometimes' } } }), 'binding.permissions'],
    ['a permission name that is not an identifier', agent('x', { binding: { permissions: { 'Web Fetch': 'deny' } } }), 'binding.permissions'],
    ['external_directory allowed', agent('x', { binding: { permissions: { external_directory: 'allow' } } }), 'binding.permissions'],
  ])('refuses %s with 400 VALIDATION_FAILED naming the field', async (_what, body, field) => {
    const res = await t.http.post('/api/v1/agents').send(body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(Object.keys(res.body.details.fields)).toContain(field);
  });

  it('shows, replaces and snapshots binding.permissions', async () => {
    const created = await t.http.post('/api/v1/agents').send(agent('perms', { binding: { permissions: { webfetch: 'deny', bash: 'ask' } } }));
    expect(created.status).toBe(201);
    expect(created.body.binding.permissions).toEqual({ bash: 'ask', webfetch: 'deny' });
    const patched = await t.http
      .patch(`/api/v1/agents/${created.body.id}`)
      .send({ version: created.body.version, binding: { permissions: { edit: 'deny', external_directory: 'deny' } } });
    expect(patched.status).toBe(200);
    expect(patched.body.binding.permissions).toEqual({ edit: 'deny', external_directory: 'deny' });
    const refused = await t.http.patch(`/api/v1/agents/${created.body.id}`).send({ version: patched.body.version, binding: { permissions: { question: 'ask' } } });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('binding.permissions.question is always denied by the orchestrator');
    expect((await t.http.get(`/api/v1/agents/${created.body.id}`)).body.binding.permissions).toEqual({ edit: 'deny', external_directory: 'deny' });
  });

  it('refuses bad route and query input with 400', async () => {
    const badSkill = await t.http.post('/api/v1/agents/route').send({ skills: ['Bad Tag'], complexity: 3 });
    expect(badSkill.status).toBe(400);
    expect(badSkill.body.details.fields).toHaveProperty('skills');
    expect((await t.http.post('/api/v1/agents/route').send({ skills: [], complexity: 11 })).status).toBe(400);
    expect((await t.http.post('/api/v1/agents/route').send({ role: 'WIZARD', skills: [], complexity: 3 })).status).toBe(400);
    expect((await t.http.get('/api/v1/agents?enabled=maybe')).status).toBe(400);
  });

  it('gives the performance figures of recorded runs', async () => {
    const a = await create(agent('perf'));
    const service = t.app.get(AgentService);
    const finished = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    const base = { agentId: a.id, attempt: 1, inputTokens: 10, outputTokens: 5, costUsd: 0.2 };
    await service.recordRun({ ...base, sessionId: randomUUID(), outcome: 'COMPLETED', durationMs: 1000, qualityScore: 8, finishedAt: finished(3) });
    await service.recordRun({ ...base, sessionId: randomUUID(), outcome: 'FAILED', durationMs: 3000, qualityScore: null, finishedAt: finished(2) });
    await service.recordRun({ ...base, sessionId: randomUUID(), outcome: 'CANCELLED', durationMs: 9000, qualityScore: null, finishedAt: finished(1) });

    const res = await t.http.get(`/api/v1/agents/${a.id}/performance?lastN=1`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      agentId: a.id,
      tier: 'SILVER',
      lastN: 1,
      recent: { runs: 1, successes: 0, successRate: 0, costPerSuccessUsd: null, p50DurationMs: 3000 },
      allTime: { runs: 2, successes: 1, successRate: 0.5, meanQuality: 8, scoredRuns: 1, p50DurationMs: 2000 },
    });
    expect(res.body.allTime.costPerSuccessUsd).toBeCloseTo(0.4, 10);
    expect(res.body.thresholds.map((x: { tier: string }) => x.tier)).toEqual(['PLATINUM', 'GOLD', 'SILVER']);
    expect((await t.http.get(`/api/v1/agents/${a.id}/performance?lastN=0`)).status).toBe(400);
    expect((await t.http.get(`/api/v1/agents/${randomUUID()}/performance`)).status).toBe(404);
  });

  it('routes work: ranks the eligible agents with explained parts, and says why the others were skipped', async () => {
    const routed = `route-${tag}`;
    const best = await create(agent('best', { capabilities: [{ skill: routed, level: 5 }] }));
    const ok = await create(agent('ok', { capabilities: [{ skill: routed, level: 2 }] }));
    const off = await create(agent('off', { enabled: false, capabilities: [{ skill: routed, level: 5 }] }));
    const full = await create(agent('full', { maxConcurrentSessions: 1, capabilities: [{ skill: routed, level: 5 }] }));
    await t.app.get(DataSource).query(
      `INSERT INTO sessions (id, title, prompt, workspace, agent, timeout_seconds, status, attempt, version, agent_id)
       VALUES ($1, 'busy', 'p', '/tmp', 'build', 60, 'QUEUED', 1, 1, $2)`,
      [randomUUID(), full.id],
    );

    const res = await t.http.post('/api/v1/agents/route').send({ role: 'IMPLEMENTER', skills: [routed], complexity: 9 });
    expect(res.status).toBe(200);
    const { ranked, skipped } = res.body as {
      ranked: Array<{ agentId: string; name: string; tier: string; score: number; parts: Record<string, Record<string, unknown>> }>;
      skipped: Array<{ agentId: string; name: string; reason: string; why: string }>;
    };
    expect(ranked.map((r) => r.agentId)).toEqual([best.id, ok.id]);
    expect(ranked[0]).toMatchObject({ name: best.name, role: 'IMPLEMENTER', tier: 'SILVER' });
    expect(Object.keys(ranked[0].parts).sort()).toEqual(['cost', 'load', 'quality', 'skill', 'successRate', 'tier']);
    for (const part of Object.values(ranked[0].parts)) {
      expect(part).toEqual({ value: expect.any(Number), weight: expect.any(Number), contribution: expect.any(Number), why: expect.any(String) });
    }
    expect(ranked[0].parts.skill).toMatchObject({ value: 1, weight: 0.35, why: `${routed}:5 against level 5 needed` });
    expect(ranked[1].parts.skill.value).toBe(0.4);
    expect(ranked[0].score).toBeGreaterThan(ranked[1].score);
    expect(skipped.find((s) => s.agentId === off.id)).toMatchObject({ reason: 'DISABLED', why: 'the agent is disabled' });
    expect(skipped.find((s) => s.agentId === full.id)).toMatchObject({ reason: 'SATURATED', why: '1 active sessions of at most 1' });
    expect(skipped.find((s) => s.name === 'reviewer')).toMatchObject({ reason: 'ROLE_MISMATCH' });
    expect(skipped.find((s) => s.name === 'implementer')).toMatchObject({ reason: 'NO_SKILL_MATCH' });
  });
});

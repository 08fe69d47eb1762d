import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createTestApp, TestApp } from '../../../test/support/app';

const API_KEY = 'budgets-e2e-bootstrap-key';
const ZERO = { tokens: 0, costUsd: 0, minutes: 0 };

/** Daily budgets of agents and API keys, and an agent's fallback models and max steps, through HTTP. */
describe('Agent and API key budgets through HTTP', () => {
  let t: TestApp;
  const tag = `budgets-e2e-${Date.now().toString(36)}-${process.pid}`;
  const as = (token: string) => ({
    get: (path: string) => t.http.get(path).set('authorization', `Bearer ${token}`),
    post: (path: string, body: object) => t.http.post(path).set('authorization', `Bearer ${token}`).send(body),
    patch: (path: string, body: object) => t.http.patch(path).set('authorization', `Bearer ${token}`).send(body),
  });
  const admin = () => as(API_KEY);
  /** The budget the spending context's run-time guard holds for the scope (its spend_limits table); null: none. */
  const mirrored = async (scope: 'AGENT' | 'KEY', id: string): Promise<unknown> => {
    const rows: Array<{ budget: unknown }> = await t.app.get(DataSource).query(`SELECT budget FROM spend_limits WHERE scope = $1 AND scope_id = $2`, [scope, id]);
    return rows[0]?.budget ?? null;
  };

  beforeAll(async () => {
    t = await createTestApp({ withWorker: false, env: { API_KEY } });
  });
  afterAll(() => t?.close());

  describe('agents', () => {
    it('creates an agent with a budget, fallback models and max steps, and shows them with what it spent today', async () => {
      const res = await admin().post('/api/v1/agents', {
        name: `${tag}-impl`,
        role: 'IMPLEMENTER',
        capabilities: [{ skill: 'typescript', level: 3 }],
        binding: { model: 'anthropic/claude-sonnet-4', fallbackModels: ['openai/gpt-5', 'google/gemini-2.5-pro'], maxSteps: 40 },
        budget: { maxCostUsd: 10, maxTokens: 2_000_000, maxMinutes: null },
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        version: 1,
        binding: { model: 'anthropic/claude-sonnet-4', fallbackModels: ['openai/gpt-5', 'google/gemini-2.5-pro'], maxSteps: 40 },
        budget: { maxCostUsd: 10, maxTokens: 2_000_000 },
        spendToday: { spent: ZERO, remaining: { maxCostUsd: 10, maxTokens: 2_000_000 } },
      });
      expect(res.body.budget).toEqual({ maxCostUsd: 10, maxTokens: 2_000_000 });
      const id = res.body.id as string;
      expect(await mirrored('AGENT', id)).toEqual({ maxCostUsd: 10, maxTokens: 2_000_000 });

      const patched = await admin().patch(`/api/v1/agents/${id}`, { version: 1, budget: { maxMinutes: 30 } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ version: 2, budget: { maxMinutes: 30 }, spendToday: { spent: ZERO, remaining: { maxMinutes: 30 } } });
      expect(patched.body.binding).toMatchObject({ fallbackModels: ['openai/gpt-5', 'google/gemini-2.5-pro'], maxSteps: 40 });
      expect(await mirrored('AGENT', id)).toEqual({ maxMinutes: 30 });

      const stale = await admin().patch(`/api/v1/agents/${id}`, { version: 1, budget: { maxMinutes: 60 } });
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe('AGENT_VERSION_CONFLICT');

      const bad = await admin().patch(`/api/v1/agents/${id}`, { version: 2, budget: { maxCostUsd: -5 } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ statusCode: 400, code: 'AGENT_INVALID', details: { field: 'budget.maxCostUsd' } });
      expect(bad.body.message).toMatch(/^budget\.maxCostUsd must be a number above 0/);
      const unknownLimit = await admin().patch(`/api/v1/agents/${id}`, { version: 2, budget: { dollars: 5 } });
      expect(unknownLimit.status).toBe(400);
      expect(unknownLimit.body).toMatchObject({ code: 'AGENT_INVALID', details: { field: 'budget.dollars' } });

      const read = await admin().get(`/api/v1/agents/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ version: 2, budget: { maxMinutes: 30 }, spendToday: { spent: ZERO, remaining: { maxMinutes: 30 } } });
      const listed = (await admin().get('/api/v1/agents').expect(200)).body as Array<{ id: string; spendToday: unknown; budget: unknown }>;
      expect(listed.find((a) => a.id === id)).toMatchObject({ budget: { maxMinutes: 30 }, spendToday: { spent: ZERO } });

      const cleared = await admin().patch(`/api/v1/agents/${id}`, { version: 2, budget: null, binding: { fallbackModels: [], maxSteps: null } });
      expect(cleared.status).toBe(200);
      expect(cleared.body).toMatchObject({ version: 3, budget: null, spendToday: { spent: ZERO, remaining: null }, binding: { fallbackModels: [], maxSteps: null } });
      expect(await mirrored('AGENT', id)).toBeNull();
    });

    it('refuses fallback models that are too many, malformed, repeated or the primary, and steps out of range', async () => {
      const body = (binding: object) => ({ name: `${tag}-${randomUUID().slice(0, 8)}`, role: 'IMPLEMENTER', capabilities: [], binding });
      const tooMany = await admin().post('/api/v1/agents', body({ fallbackModels: ['a/1', 'a/2', 'a/3', 'a/4', 'a/5', 'a/6'] }));
      expect(tooMany.status).toBe(400);
      expect(tooMany.body.message).toContain('binding.fallbackModels');
      const malformed = await admin().post('/api/v1/agents', body({ fallbackModels: ['gpt-5'] }));
      expect(malformed.status).toBe(400);
      expect(malformed.body.message).toContain('binding.fallbackModels');
      const primary = await admin().post('/api/v1/agents', body({ model: 'openai/gpt-5', fallbackModels: ['openai/gpt-5'] }));
      expect(primary.status).toBe(400);
      expect(primary.body).toMatchObject({ code: 'AGENT_INVALID', details: { field: 'binding.fallbackModels[0]' } });
      const repeated = await admin().post('/api/v1/agents', body({ fallbackModels: ['openai/gpt-5', 'openai/gpt-5'] }));
      expect(repeated.body).toMatchObject({ code: 'AGENT_INVALID', details: { field: 'binding.fallbackModels[1]' } });
      for (const maxSteps of [0, 100_001, 1.5]) {
        const res = await admin().post('/api/v1/agents', body({ maxSteps }));
        expect(res.status).toBe(400);
        expect(res.body.message).toContain('maxSteps');
      }
      const defaults = await admin().post('/api/v1/agents', body({}));
      expect(defaults.status).toBe(201);
      expect(defaults.body).toMatchObject({ binding: { fallbackModels: [], maxSteps: null }, budget: null, spendToday: { spent: ZERO, remaining: null } });
    });
  });

  describe('API keys', () => {
    it('issues a key with a budget, changes it with the version read, and shows it with what was spent today', async () => {
      const issued = await admin().post('/api/v1/keys', { name: `${tag}-ci`, role: 'operator', budget: { maxCostUsd: 5, maxTokens: 100_000 } });
      expect(issued.status).toBe(201);
      expect(issued.body).toMatchObject({
        version: 1,
        budget: { maxCostUsd: 5, maxTokens: 100_000 },
        spendToday: { spent: ZERO, remaining: { maxCostUsd: 5, maxTokens: 100_000 } },
      });
      expect(typeof issued.body.key).toBe('string');
      const id = issued.body.id as string;
      expect(await mirrored('KEY', id)).toEqual({ maxCostUsd: 5, maxTokens: 100_000 });

      const patched = await admin().patch(`/api/v1/keys/${id}`, { version: 1, budget: { maxMinutes: 120 } });
      expect(patched.status).toBe(200);
      expect(await mirrored('KEY', id)).toEqual({ maxMinutes: 120 });
      expect(patched.body).toMatchObject({ id, version: 2, budget: { maxMinutes: 120 }, spendToday: { spent: ZERO, remaining: { maxMinutes: 120 } } });
      expect(patched.body.key).toBeUndefined();
      expect(patched.body.keyHash).toBeUndefined();

      const stale = await admin().patch(`/api/v1/keys/${id}`, { version: 1, budget: null });
      expect(stale.status).toBe(409);
      expect(stale.body.code).toBe('KEY_VERSION_CONFLICT');

      const bad = await admin().patch(`/api/v1/keys/${id}`, { version: 2, budget: { maxCostUsd: 0 } });
      expect(bad.status).toBe(400);
      expect(bad.body).toMatchObject({ code: 'KEY_INVALID', details: { field: 'budget.maxCostUsd' } });
      expect(bad.body.message).toMatch(/^budget\.maxCostUsd must be a number above 0/);
      expect(await mirrored('KEY', id)).toEqual({ maxMinutes: 120 });
      const badAtIssue = await admin().post('/api/v1/keys', { name: `${tag}-bad`, role: 'viewer', budget: { maxCostUsd: 'ten' } });
      expect(badAtIssue.status).toBe(400);
      expect(badAtIssue.body).toMatchObject({ code: 'KEY_INVALID', details: { field: 'budget.maxCostUsd' } });
      const noVersion = await admin().patch(`/api/v1/keys/${id}`, { budget: null });
      expect(noVersion.status).toBe(400);
      expect(noVersion.body.code).toBe('VALIDATION_FAILED');

      const read = await admin().get(`/api/v1/keys/${id}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ version: 2, budget: { maxMinutes: 120 }, spendToday: { spent: ZERO, remaining: { maxMinutes: 120 } } });
      const listed = (await admin().get('/api/v1/keys').expect(200)).body as Array<{ id: string }>;
      expect(listed.find((k) => k.id === id)).toMatchObject({ budget: { maxMinutes: 120 }, spendToday: { spent: ZERO } });

      // Only an admin key changes budgets.
      const operator = await admin().post('/api/v1/keys', { name: `${tag}-op`, role: 'operator' });
      expect(operator.body).toMatchObject({ budget: null, spendToday: { spent: ZERO, remaining: null } });
      expect((await as(operator.body.key).patch(`/api/v1/keys/${id}`, { version: 2, budget: null })).status).toBe(403);

      const cleared = await admin().patch(`/api/v1/keys/${id}`, { version: 2, budget: null });
      expect(cleared.status).toBe(200);
      expect(cleared.body).toMatchObject({ version: 3, budget: null, spendToday: { remaining: null } });
      expect(await mirrored('KEY', id)).toBeNull();
    });

    it('answers 404 for an unknown key, and 400 naming the reason for the bootstrap key (API_KEY has no stored row)', async () => {
      const unknown = await admin().patch(`/api/v1/keys/${randomUUID()}`, { version: 1, budget: { maxCostUsd: 1 } });
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('KEY_NOT_FOUND');
      const bootstrap = await admin().patch('/api/v1/keys/bootstrap', { version: 1, budget: { maxCostUsd: 1 } });
      expect(bootstrap.status).toBe(400);
      expect(bootstrap.body).toMatchObject({ code: 'KEY_INVALID', details: { field: 'id' } });
      expect(bootstrap.body.message).toContain('bootstrap key (API_KEY)');
      expect((await admin().patch('/api/v1/keys/not-a-uuid', { version: 1, budget: null })).status).toBe(400);
    });
  });
});

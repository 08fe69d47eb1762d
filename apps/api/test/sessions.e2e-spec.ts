import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

describe('Sessions through HTTP, run by the worker on a real OpenCode server', () => {
  let t: TestApp;
  let workspace: string;

  const create = async (body: Record<string, unknown>) => {
    const res = await t.http.post('/api/v1/sessions').send({ title: 'e2e', workspace, ...body });
    expect(res.status).toBe(201);
    return res.body as { id: string; version: number; status: string; attempt: number };
  };
  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;
  const waitForStatus = (id: string, statuses: string[], timeoutMs = 60_000) =>
    waitFor(() => get(id), (s) => statuses.includes(s.status), { timeoutMs, what: `${id} in ${statuses}` });

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());
  beforeEach(() => {
    workspace = makeTempWorkspace();
  });

  it('runs a prompt that writes a file to COMPLETED, with the file, filesChanged and usage', async () => {
    const session = await create({ prompt: 'Create the greeting.\n[[write hello.txt]]Hello from OpenCode[[/write]]' });
    expect(session).toMatchObject({ status: 'PENDING', version: 1, attempt: 1, origin: { kind: 'api' } });

    const started = await t.http.post(`/api/v1/sessions/${session.id}/start`);
    expect(started.status).toBe(202);
    expect(started.body.status).toBe('QUEUED');

    const done = await waitForStatus(session.id, FINAL);
    expect(done.status).toBe('COMPLETED');
    expect(readFileSync(join(workspace, 'hello.txt'), 'utf8')).toBe('Hello from OpenCode');
    expect(done.result.filesChanged).toEqual(['hello.txt']);
    expect(done.result.summary).toMatch(/hello\.txt/);
    expect(done.usage.inputTokens).toBeGreaterThan(0);
    expect(done.usage.outputTokens).toBeGreaterThan(0);
    expect(done.opencodeSessionId).toMatch(/^ses_/);
    expect(done.error).toBeNull();
    expect(new Date(done.startedAt).getTime()).toBeLessThanOrEqual(new Date(done.finishedAt).getTime());

    const events = (await t.http.get(`/api/v1/sessions/${session.id}/events`)).body;
    expect(events.map((e: { to: string }) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED']);
  });

  it('ends FAILED with the provider message when the model fails', async () => {
    const session = await create({ prompt: '[[fail: the model refused the task]]' });
    await t.http.post(`/api/v1/sessions/${session.id}/start`).expect(202);
    const done = await waitForStatus(session.id, FINAL);
    expect(done.status).toBe('FAILED');
    expect(done.error.code).toBe('PROVIDER_ERROR');
    expect(done.error.message).toContain('the model refused the task');
  });

  it('retries a FAILED session as attempt 2, which runs again', async () => {
    const session = await create({ prompt: '[[fail: first try fails]]' });
    await t.http.post(`/api/v1/sessions/${session.id}/start`).expect(202);
    await waitForStatus(session.id, FINAL);
    const retried = await t.http.post(`/api/v1/sessions/${session.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ status: 'QUEUED', attempt: 2, error: null });
    const done = await waitForStatus(session.id, FINAL);
    expect(done).toMatchObject({ status: 'FAILED', attempt: 2 });
    const events = (await t.http.get(`/api/v1/sessions/${session.id}/events`)).body as Array<{ to: string; attempt: number }>;
    expect(events.filter((e) => e.to === 'RUNNING').map((e) => e.attempt)).toEqual([1, 2]);
  });

  it('cancels a slow running session within seconds', async () => {
    const session = await create({ prompt: 'Think slowly. [[slow 60]]' });
    await t.http.post(`/api/v1/sessions/${session.id}/start`).expect(202);
    await waitForStatus(session.id, ['RUNNING']);
    await waitFor(() => get(session.id), (s) => s.opencodeSessionId !== null, { what: 'turn attached' });
    const asked = Date.now();
    const cancelled = await t.http.post(`/api/v1/sessions/${session.id}/cancel`);
    expect(cancelled.status).toBe(202);
    const done = await waitForStatus(session.id, FINAL, 15_000);
    expect(done.status).toBe('CANCELLED');
    expect(Date.now() - asked).toBeLessThan(10_000);
    expect(done.error.code).toBe('CANCELLED');
  });

  it('cancels a session that has not started at once', async () => {
    const session = await create({ prompt: 'never runs' });
    const res = await t.http.post(`/api/v1/sessions/${session.id}/cancel`);
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('CANCELLED');
    const again = await t.http.post(`/api/v1/sessions/${session.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('INVALID_TRANSITION');
  });

  it('ends TIMED_OUT when a slow answer outlives timeoutSeconds', async () => {
    const session = await create({ prompt: '[[slow 60]]', timeoutSeconds: 3 });
    await t.http.post(`/api/v1/sessions/${session.id}/start`).expect(202);
    const done = await waitForStatus(session.id, FINAL, 20_000);
    expect(done.status).toBe('TIMED_OUT');
    expect(done.error.code).toBe('TIMED_OUT');
    const ran = new Date(done.finishedAt).getTime() - new Date(done.startedAt).getTime();
    expect(ran).toBeGreaterThanOrEqual(3_000);
    expect(ran).toBeLessThan(15_000);
  });

  it('lets exactly one of 20 concurrent starts through, and runs the session once', async () => {
    const session = await create({ prompt: 'plain answer' });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => t.http.post(`/api/v1/sessions/${session.id}/start`)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(19);
    for (const r of results.filter((x) => x.status === 409)) {
      expect(['INVALID_TRANSITION', 'LOCK_TIMEOUT']).toContain(r.body.code);
    }
    await waitForStatus(session.id, FINAL);
    const events = (await t.http.get(`/api/v1/sessions/${session.id}/events`)).body as Array<{ to: string }>;
    expect(events.filter((e) => e.to === 'QUEUED')).toHaveLength(1);
    expect(events.filter((e) => e.to === 'RUNNING')).toHaveLength(1);
  });

  it('updates title and metadata with the current version, and refuses a stale one with 409', async () => {
    const session = await create({ prompt: 'p', metadata: { team: 'billing' } });
    const ok = await t.http.patch(`/api/v1/sessions/${session.id}`).send({ version: 1, title: 'renamed' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ title: 'renamed', version: 2, metadata: { team: 'billing' } });
    const stale = await t.http.patch(`/api/v1/sessions/${session.id}`).send({ version: 1, title: 'stale' });
    expect(stale.status).toBe(409);
    expect(stale.body.code).toBe('VERSION_CONFLICT');
    expect((await get(session.id)).title).toBe('renamed');
  });

  it('soft-deletes a session: 204, then 404; 409 while RUNNING', async () => {
    const idle = await create({ prompt: 'p' });
    await t.http.delete(`/api/v1/sessions/${idle.id}`).expect(204);
    const gone = await t.http.get(`/api/v1/sessions/${idle.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe('SESSION_NOT_FOUND');

    const busy = await create({ prompt: '[[slow 60]]' });
    await t.http.post(`/api/v1/sessions/${busy.id}/start`).expect(202);
    await waitForStatus(busy.id, ['RUNNING']);
    const refused = await t.http.delete(`/api/v1/sessions/${busy.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('SESSION_RUNNING');
    await t.http.post(`/api/v1/sessions/${busy.id}/cancel`).expect(202);
    await waitForStatus(busy.id, FINAL, 15_000);
  });

  it('lists sessions by status with a cursor', async () => {
    const a = await create({ prompt: 'p' });
    const b = await create({ prompt: 'p' });
    const first = await t.http.get('/api/v1/sessions').query({ status: 'PENDING', limit: 1 });
    expect(first.status).toBe(200);
    expect(first.body.items).toHaveLength(1);
    expect(first.body.items[0].id).toBe(b.id);
    const second = await t.http.get('/api/v1/sessions').query({ status: 'PENDING', limit: 1, cursor: first.body.nextCursor });
    expect(second.body.items[0].id).toBe(a.id);
  });

  describe('bad input gets a 400 that names the problem', () => {
    it.each([
      [{ prompt: 'p' }, 'title'],
      [{ title: 'x' }, 'prompt'],
      [{ title: 'x', prompt: 'p', workspace: 'relative/dir' }, 'workspace'],
      [{ title: 'x', prompt: 'p', workspace: '/definitely/not/here' }, 'workspace'],
      [{ title: 'x', prompt: 'p', timeoutSeconds: 0 }, 'timeoutSeconds'],
      [{ title: 'x', prompt: 'p', timeoutSeconds: 86401 }, 'timeoutSeconds'],
      [{ title: 'x', prompt: 'p', model: 'no-slash' }, 'model'],
      [{ title: 'x', prompt: 'p', colour: 'red' }, 'colour'],
      [{ title: 'x', prompt: 'p', metadata: 'not an object' }, 'metadata'],
    ])('%j → 400 naming %s', async (body, field) => {
      const res = await t.http.post('/api/v1/sessions').send({ workspace, ...body });
      expect(res.status).toBe(400);
      expect(res.body.code).toMatch(/VALIDATION_FAILED|WORKSPACE_INVALID/);
      expect(res.body.message).toContain(field);
    });

    it('a workspace that is a file', async () => {
      const res = await t.http.post('/api/v1/sessions').send({ title: 'x', prompt: 'p', workspace: __filename });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ code: 'WORKSPACE_INVALID', details: { field: 'workspace' } });
    });

    it('a malformed id → 400, an unknown id → 404', async () => {
      const bad = await t.http.get('/api/v1/sessions/not-a-uuid');
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('VALIDATION_FAILED');
      const unknown = await t.http.get('/api/v1/sessions/6f1c1d1e-9c52-4c59-9b0e-7d1c2f1a3b4c');
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('SESSION_NOT_FOUND');
    });

    it('a bad PATCH and a bad list query', async () => {
      const session = await create({ prompt: 'p' });
      const noVersion = await t.http.patch(`/api/v1/sessions/${session.id}`).send({ title: 'x' });
      expect(noVersion.status).toBe(400);
      expect(noVersion.body.message).toContain('version');
      const badStatus = await t.http.get('/api/v1/sessions').query({ status: 'DONE' });
      expect(badStatus.status).toBe(400);
      expect(badStatus.body.message).toContain('status');
      const badCursor = await t.http.get('/api/v1/sessions').query({ cursor: 'garbage' });
      expect(badCursor.status).toBe(400);
      expect(badCursor.body.code).toBe('INVALID_CURSOR');
    });

    it('a start of a COMPLETED session → 409 INVALID_TRANSITION', async () => {
      const session = await create({ prompt: 'quick' });
      await t.http.post(`/api/v1/sessions/${session.id}/start`).expect(202);
      await waitForStatus(session.id, FINAL);
      const again = await t.http.post(`/api/v1/sessions/${session.id}/start`);
      expect(again.status).toBe(409);
      expect(again.body.code).toBe('INVALID_TRANSITION');
      const retry = await t.http.post(`/api/v1/sessions/${session.id}/retry`);
      expect(retry.status).toBe(409);
    });
  });

  it('serves health probes, Swagger and the job dashboard', async () => {
    expect((await t.http.get('/health/live')).status).toBe(200);
    const ready = await t.http.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body.info).toMatchObject({ postgres: { status: 'up' }, redis: { status: 'up' }, opencode: { status: 'up' } });
    const doc = await t.http.get('/docs-json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/sessions',
        '/api/v1/sessions/{id}',
        '/api/v1/sessions/{id}/events',
        '/api/v1/locks',
        '/api/v1/sessions/{id}/start',
        '/api/v1/sessions/{id}/cancel',
        '/api/v1/sessions/{id}/retry',
        '/health/live',
        '/health/ready',
      ]),
    );
    // One schema per run-outcome shape (two DTO classes of one name would overwrite each other).
    const schemas = doc.body.components.schemas;
    expect(Object.keys(schemas.TokenUsageDto.properties)).not.toContain('totalTokens');
    expect(JSON.stringify(schemas.PlanUsageDto)).toContain('totalTokens');
    expect(JSON.stringify(schemas.SessionResponseDto.properties.error)).toContain('RunFailureDto');
    expect((await t.http.get('/docs')).status).toBe(200);
    expect((await t.http.get('/queues')).status).toBe(200);
  });
});

describe('API key', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ withWorker: false, env: { API_KEY: 'test-key-123456' } });
  });
  afterAll(() => t.close());

  it('refuses /api and /queues without the bearer token, accepts it, and keeps health open', async () => {
    const none = await t.http.get('/api/v1/sessions');
    expect(none.status).toBe(401);
    expect(none.body.code).toBe('UNAUTHORIZED');
    expect((await t.http.get('/api/v1/sessions').set('Authorization', 'Bearer wrong-key-12345')).status).toBe(401);
    expect((await t.http.get('/queues')).status).toBe(401);
    expect((await t.http.get('/api/v1/sessions').set('Authorization', 'Bearer test-key-123456')).status).toBe(200);
    expect((await t.http.get('/queues').set('Authorization', 'Bearer test-key-123456')).status).toBe(200);
    expect((await t.http.get('/health/live')).status).toBe(200);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestApp, TestApp } from '../../../test/support/app';
import { startWorkerProcess } from '../../../test/support/worker-process';
import { waitFor } from '../../../test/support/wait';

const API_KEY = 'servers-e2e-bootstrap-key';

/**
 * GET /api/v1/servers and POST /api/v1/servers/:id/drain through HTTP, with API_KEY set, the
 * worker in the process and its fleet of one external server: the shared test `opencode serve`.
 */
describe('OpenCode servers (e2e)', () => {
  let t: TestApp;
  const keys: Record<'viewer' | 'operator' | 'admin', string> = { viewer: '', operator: '', admin: '' };

  beforeAll(async () => {
    t = await createTestApp({ env: { API_KEY } });
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      const issued = await t.http.post('/api/v1/keys').set('Authorization', `Bearer ${API_KEY}`).send({ name: `servers-e2e-${role}`, role }).expect(201);
      keys[role] = issued.body.key;
    }
  });
  afterAll(() => t.close());

  const list = (key = keys.viewer) => t.http.get('/api/v1/servers').set('Authorization', `Bearer ${key}`);
  const drain = (id: string, key = keys.admin) => t.http.post(`/api/v1/servers/${id}/drain`).set('Authorization', `Bearer ${key}`);
  const listed = async () => (await list().expect(200)).body.items as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const theServers = () => waitFor(listed, (servers) => servers.length > 0, { timeoutMs: 10_000, what: 'the worker to publish its servers' });
  const theServer = async () => {
    const items = await waitFor(listed, (servers) => servers.length > 0, { timeoutMs: 10_000, what: 'the worker to publish its servers' });
    expect(items).toHaveLength(1);
    return items[0];
  };

  it("lists the worker's server to a viewer: external, READY, at its URL without the password", async () => {
    const { OPENCODE_HOST, OPENCODE_PORT, OPENCODE_PASSWORD } = process.env;
    const server = await theServer();
    expect(server).toEqual({
      id: expect.stringMatching(/^ext-[0-9a-f]{12}$/),
      url: `http://${OPENCODE_HOST}:${OPENCODE_PORT}`,
      managed: false,
      sandboxed: null,
      pid: null,
      workerId: expect.stringMatching(/^[A-Za-z0-9-]+-\d+$/),
      state: 'READY',
      rssMb: null,
      startedAt: expect.any(String),
      sessionsRunning: 0,
      sessionsServed: 0,
      maxSessions: t.config.opencodeFleet.maxSessionsPerServer,
      latencyMs: { p50: expect.any(Number), p95: expect.any(Number) },
      lastError: null,
      drainReason: null,
      reconnects: 0,
    });
    expect(Date.parse(server.startedAt)).toBeLessThanOrEqual(Date.now());
    const body = JSON.stringify((await list().expect(200)).body);
    if (OPENCODE_PASSWORD) expect(body).not.toContain(OPENCODE_PASSWORD);
    expect(body).not.toMatch(/password/i);

    const refused = await t.http.get('/api/v1/servers');
    expect(refused.status).toBe(401);
  });

  it('lets only an admin drain: 403 for an operator and a viewer, naming the role needed', async () => {
    const { id } = await theServer();
    for (const key of [keys.operator, keys.viewer]) {
      const refused = await drain(id, key);
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'admin' } });
    }
    expect((await theServer()).state).toBe('READY');
  });

  it('answers 404 SERVER_NOT_FOUND for an id no worker lists, and 400 VALIDATION_FAILED naming id for one that cannot be an id', async () => {
    const unknown = await drain('someone-else-1234-m0g1');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      statusCode: 404,
      code: 'SERVER_NOT_FOUND',
      message: expect.stringContaining('someone-else-1234-m0g1'),
      details: { id: 'someone-else-1234-m0g1' },
    });

    for (const bad of ['bad_id', 'x'.repeat(121), 'a.b', '%20']) {
      const refused = await drain(bad);
      expect({ bad, status: refused.status, code: refused.body.code }).toEqual({ bad, status: 400, code: 'VALIDATION_FAILED' });
      expect(refused.body.message).toMatch(/^id must be a server id/);
      expect(Object.keys(refused.body.details.fields)).toEqual(['id']);
    }
  });

  it('drains a listed server: 202 with its view, then listed DRAINING within a few seconds (an external one stays so)', async () => {
    const server = await theServer();
    const accepted = await drain(server.id);
    expect(accepted.status).toBe(202);
    expect(accepted.body).toMatchObject({ id: server.id, url: server.url, workerId: server.workerId, managed: false });

    const drained = await waitFor(theServer, (s) => s.state === 'DRAINING', { timeoutMs: 10_000, intervalMs: 250, what: `${server.id} listed DRAINING` });
    expect(drained).toMatchObject({ id: server.id, drainReason: expect.stringContaining('servers-e2e-admin'), sessionsRunning: 0 });
    // Only a managed server is replaced once drained: an external one stays, DRAINING, for the worker's life.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await listed()).toEqual([expect.objectContaining({ id: server.id, state: 'DRAINING' })]);
    // Asking again is harmless.
    expect((await drain(server.id)).status).toBe(202);
  });

  it('documents both routes in Swagger, the id parameter with its pattern', async () => {
    const doc = (await t.http.get('/docs-json').set('Authorization', `Bearer ${keys.viewer}`).expect(200)).body;
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/servers', '/api/v1/servers/{id}/drain']));
    const drainDoc = doc.paths['/api/v1/servers/{id}/drain'].post;
    expect(drainDoc.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ pattern: '^[A-Za-z0-9-]{1,120}$' }) })]);
    expect(Object.keys(drainDoc.responses)).toEqual(expect.arrayContaining(['202', '400', '401', '403', '404']));
    expect(Object.keys(doc.components.schemas.ServerDto.properties).sort()).toEqual(
      ['drainReason', 'id', 'lastError', 'latencyMs', 'managed', 'maxSessions', 'pid', 'reconnects', 'rssMb', 'sandboxed', 'sessionsRunning', 'sessionsServed', 'startedAt', 'state', 'url', 'workerId'].sort(),
    );
  });

  it('lists the servers of every worker process: a second worker, with a managed server of its own beside the external one', async () => {
    const own = (await theServers())[0].workerId;
    const dataDir = mkdtempSync(join(tmpdir(), 'servers-e2e-worker-'));
    const worker = startWorkerProcess({ OPENCODE_SERVERS: '1', DATA_DIR: dataDir, LOG_LEVEL: 'log' });
    try {
      await worker.ready;
      const items = await waitFor(listed, (servers) => servers.filter((s) => s.workerId !== own && s.state !== 'STOPPED').length === 2, {
        timeoutMs: 30_000,
        what: 'the second worker to publish its two servers',
      });
      const other = items.filter((s) => s.workerId !== own);
      const managed = other.find((s) => s.managed)!;
      expect(managed).toMatchObject({ id: `${managed.workerId}-m0g1`, state: 'READY', pid: expect.any(Number), rssMb: expect.any(Number), sandboxed: expect.any(Boolean) });
      expect(managed.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      // The external server is listed by both workers, under one id (a run resumed by either goes back to it).
      const external = items.filter((s) => !s.managed);
      expect(external.map((s) => s.workerId).sort()).toEqual([own, managed.workerId].sort());
      expect(new Set(external.map((s) => s.id)).size).toBe(1);
    } finally {
      await worker.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DataSource } from 'typeorm';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { runCli } from '../../cli/src/cli';

const API_KEY = 'auth-e2e-bootstrap-key';
const ROOT = join(__dirname, '..', '..', '..');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/**
 * The real application with API_KEY set, called over a real socket with the path sent byte for
 * byte as written (an HTTP client library would tidy `//`, `..` or `%61` away before sending).
 */
describe('Authentication and authorization (API_KEY set)', () => {
  let t: TestApp;
  let port: number;
  let db: DataSource;
  const lines: Array<Record<string, unknown>> = [];
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim().startsWith('{')) lines.push(JSON.parse(line));
      done();
    },
  });
  const base = realpathSync(makeTempWorkspace());
  const teamRoot = join(base, 'team');
  const secrets: string[] = [API_KEY];

  /** One request; `token` goes in Authorization: Bearer. Streams: headers only, then the socket is closed. */
  function call(method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<Reply> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) });
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        if (String(res.headers['content-type']).startsWith('text/event-stream')) {
          resolve({ status: res.statusCode!, headers: res.headers, body: null });
          res.destroy();
          return;
        }
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : null;
          } catch {
            /* HTML or CSS */
          }
          resolve({ status: res.statusCode!, headers: res.headers, body });
        });
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  async function issue(role: string, extra: Record<string, unknown> = {}): Promise<{ id: string; key: string }> {
    const res = await call('POST', '/api/v1/keys', { token: API_KEY, body: { name: `e2e-${role}-${randomUUID().slice(0, 8)}`, role, ...extra } });
    expect(res.status).toBe(201);
    secrets.push(res.body.key);
    return { id: res.body.id, key: res.body.key };
  }

  let viewer: { id: string; key: string };
  let operator: { id: string; key: string };
  let admin: { id: string; key: string };

  beforeAll(async () => {
    mkdirSync(join(teamRoot, 'app'), { recursive: true });
    mkdirSync(join(base, 'elsewhere'));
    t = await createTestApp({ withWorker: false, logs, env: { API_KEY, LOG_LEVEL: 'log' } });
    await t.app.listen(0, '127.0.0.1');
    port = (t.app.getHttpServer().address() as AddressInfo).port;
    db = t.app.get(DataSource);
    [viewer, operator, admin] = await Promise.all([issue('viewer'), issue('operator'), issue('admin')]);
  });
  afterAll(async () => {
    await t?.close();
    rmSync(base, { recursive: true, force: true });
  });

  const SPELLINGS: Array<[string, number]> = [
    // [path, status with a key: what Express serves for that spelling]
    ['/api/v1/sessions', 200],
    ['/API/v1/sessions', 200],
    ['/Api/v1/sessions', 200],
    ['/api/v1/sessions/', 200],
    ['//api//v1/sessions', 404],
    ['/%61pi/v1/sessions', 404],
    ['/docs/../api/v1/sessions', 404],
    ['/QUEUES', 200],
    ['/queues/api/queues', 200],
    ['/Queues/API/queues?activeQueue=x', 200],
  ];

  it.each(SPELLINGS)('%s: 401 without a key, never 401 with one (%i)', async (path, withKey) => {
    const refused = await call('GET', path);
    expect(refused.status).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer');
    expect(refused.body).toEqual({ statusCode: 401, code: 'UNAUTHORIZED', message: 'This needs an API key: send Authorization: Bearer <key>' });
    expect((await call('GET', path, { token: 'wrong-key-0123456789' })).status).toBe(401);
    expect((await call('GET', path, { token: viewer.key })).status).toBe(withKey);
  });

  it('creates nothing on POST /Api/v1/sessions without a key, and records who did with one', async () => {
    const title = `auth-e2e-${randomUUID()}`;
    const body = { title, prompt: 'p', workspace: join(teamRoot, 'app') };
    const refused = await call('POST', '/Api/v1/sessions', { body, headers: { 'x-request-id': 'auth-e2e-refused' } });
    expect(refused.status).toBe(401);
    expect((await call('POST', '//api/v1/sessions/', { body })).status).toBe(401);
    expect(await db.query('SELECT id FROM sessions WHERE title = $1', [title])).toEqual([]);

    const made = await call('POST', '/Api/v1/sessions', { token: operator.key, body, headers: { 'x-request-id': 'auth-e2e-created' } });
    expect(made.status).toBe(201);
    expect(made.body.createdByKeyId).toBe(operator.id);
    const bootstrap = await call('POST', '/api/v1/sessions', { token: API_KEY, body });
    expect(bootstrap.body.createdByKeyId).toBe('bootstrap');
    expect(await db.query('SELECT created_by_key_id FROM sessions WHERE title = $1 ORDER BY created_at', [title])).toEqual([
      { created_by_key_id: operator.id },
      { created_by_key_id: 'bootstrap' },
    ]);

    // One audit line per mutation, refused or not, with the correlation id and never a secret.
    const audit = (id: string) => lines.find((l) => l.msg === 'audit' && l.correlationId === id);
    expect(audit('auth-e2e-refused')).toMatchObject({ keyId: null, refused: 'missing', method: 'POST', route: 'unmatched', path: '/api/v1/sessions', status: 401 });
    expect(audit('auth-e2e-created')).toMatchObject({
      keyId: operator.id,
      keyName: expect.stringMatching(/^e2e-operator-/),
      role: 'operator',
      method: 'POST',
      route: '/api/v1/sessions',
      status: 201,
    });
  });

  it('lets a viewer read everything and change nothing, the 403 naming the role needed', async () => {
    for (const path of ['/api/v1/sessions', '/api/v1/plans', '/api/v1/agents', '/api/v1/locks']) {
      expect({ path, status: (await call('GET', path, { token: viewer.key })).status }).toEqual({ path, status: 200 });
    }
    const routed = await call('POST', '/api/v1/agents/route', { token: viewer.key, body: { role: 'IMPLEMENTER', skills: ['typescript'], complexity: 3 } });
    expect(routed.status).toBe(200);

    const session = await call('POST', '/api/v1/sessions', { token: viewer.key, body: { title: 't', prompt: 'p', workspace: join(teamRoot, 'app') } });
    expect(session.status).toBe(403);
    expect(session.body).toEqual({
      statusCode: 403,
      code: 'FORBIDDEN',
      message: expect.stringContaining('needs the operator role'),
      details: { requiredRole: 'operator', role: 'viewer' },
    });
    const review = await call('POST', '/api/v1/sessions', {
      token: viewer.key,
      body: { title: 'review', prompt: 'p', workspace: join(teamRoot, 'app'), reviewOf: randomUUID() },
    });
    expect(review).toMatchObject({ status: 403, body: { details: { requiredRole: 'operator' } } });
    expect((await call('POST', '/api/v1/plans', { token: viewer.key, body: { requirement: 'x', workspace: teamRoot } })).status).toBe(403);
    expect((await call('DELETE', `/api/v1/sessions/${randomUUID()}`, { token: viewer.key })).status).toBe(403);
    expect((await call('GET', '/api/v1/keys', { token: viewer.key })).body.details).toEqual({ requiredRole: 'admin', role: 'viewer' });
  });

  it('lets an operator create, start and cancel sessions and plans, but not write agents or touch keys', async () => {
    const workspace = join(teamRoot, 'app');
    const created = await call('POST', '/api/v1/sessions', { token: operator.key, body: { title: 'op', prompt: 'p', workspace } });
    expect(created.status).toBe(201);
    expect((await call('POST', `/api/v1/sessions/${created.body.id}/start`, { token: operator.key })).body.status).toBe('QUEUED');
    expect((await call('POST', `/api/v1/sessions/${created.body.id}/cancel`, { token: operator.key })).body.status).toBe('CANCELLED');

    const plan = await call('POST', '/api/v1/plans', { token: operator.key, body: { requirement: 'Add a health endpoint to the service', workspace } });
    expect(plan.status).toBe(201);
    expect(plan.body.createdByKeyId).toBe(operator.id);
    expect((await call('POST', `/api/v1/plans/${plan.body.id}/run`, { token: operator.key })).status).toBe(202);
    expect((await call('POST', `/api/v1/plans/${plan.body.id}/cancel`, { token: operator.key })).body.status).toBe('CANCELLED');
    expect((await call('GET', `/api/v1/plans/${plan.body.id}`, { token: viewer.key })).body.createdByKeyId).toBe(operator.id);

    const agent = { name: `e2e-agent-${randomUUID().slice(0, 8)}`, role: 'IMPLEMENTER', capabilities: [{ skill: 'typescript', level: 3 }] };
    const refused = await call('POST', '/api/v1/agents', { token: operator.key, body: agent });
    expect(refused).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: expect.stringContaining('admin'), details: { requiredRole: 'admin', role: 'operator' } } });
    for (const [method, path] of [['GET', '/api/v1/keys'], ['POST', '/api/v1/keys'], ['DELETE', `/api/v1/keys/${viewer.id}`]]) {
      const res = await call(method, path, { token: operator.key, body: method === 'POST' ? { name: 'x', role: 'admin' } : undefined });
      expect({ method, path, status: res.status, requiredRole: res.body.details?.requiredRole }).toEqual({ method, path, status: 403, requiredRole: 'admin' });
    }
    const made = await call('POST', '/api/v1/agents', { token: admin.key, body: agent });
    expect(made.status).toBe(201);
    expect((await call('DELETE', `/api/v1/agents/${made.body.id}`, { token: admin.key })).status).toBe(204);
  });

  it('lets any key look at Bull Board and only admin act on it', async () => {
    const queue = (await call('GET', '/queues/api/queues', { token: viewer.key })).body.queues[0].name as string;
    for (const token of [viewer.key, operator.key]) {
      const res = await call('PUT', `/queues/api/queues/${queue}/pause`, { token });
      expect(res).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', details: { requiredRole: 'admin' } } });
      expect((await call('PUT', `/QUEUES/api/queues/${queue}/clean/completed`, { token })).status).toBe(403);
    }
    expect((await call('PUT', `/queues/api/queues/${queue}/pause`)).status).toBe(401);
    expect((await call('PUT', `/queues/api/queues/${queue}/pause`, { token: admin.key })).status).toBe(200);
    const paused = (await call('GET', '/queues/api/queues', { token: viewer.key })).body.queues[0];
    expect(paused.isPaused).toBe(true);
    expect((await call('PUT', `/Queues/api/queues/${queue}/resume`, { token: API_KEY })).status).toBe(200);
  });

  it('refuses a revoked key at once, and an expired one', async () => {
    const key = await issue('viewer');
    expect((await call('GET', '/api/v1/sessions', { token: key.key })).status).toBe(200);
    expect((await call('DELETE', `/api/v1/keys/${key.id}`, { token: admin.key })).status).toBe(204);
    const revoked = await call('GET', '/api/v1/sessions', { token: key.key });
    expect(revoked).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED', message: 'The API key was revoked' } });
    expect((await call('GET', `/api/v1/keys/${key.id}`, { token: admin.key })).body).toMatchObject({ status: 'revoked', revokedAt: expect.any(String) });
    expect((await call('DELETE', `/api/v1/keys/${randomUUID()}`, { token: admin.key })).body.code).toBe('KEY_NOT_FOUND');

    const brief = await issue('operator', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await call('GET', '/api/v1/sessions', { token: brief.key })).status).toBe(200);
    await db.query(`UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, [brief.id]);
    expect((await call('GET', '/api/v1/sessions', { token: brief.key })).body).toMatchObject({ code: 'UNAUTHORIZED', message: 'The API key has expired' });

    const past = await call('POST', '/api/v1/keys', { token: admin.key, body: { name: 'late', role: 'viewer', expiresAt: '2001-01-01T00:00:00Z' } });
    expect(past).toMatchObject({ status: 400, body: { code: 'KEY_INVALID', message: 'expiresAt must be in the future', details: { field: 'expiresAt' } } });
  });

  it("confines a key with workspaceRoots to them, and records the key on what it makes", async () => {
    const outsideRoots = await call('POST', '/api/v1/keys', { token: admin.key, body: { name: 'etc', role: 'operator', workspaceRoots: ['/etc'] } });
    expect(outsideRoots).toMatchObject({ status: 400, body: { code: 'WORKSPACE_OUTSIDE_ROOTS', details: { field: 'workspaceRoots' } } });

    const team = await issue('operator', { workspaceRoots: [teamRoot] });
    const outside = await call('POST', '/api/v1/sessions', { token: team.key, body: { title: 'out', prompt: 'p', workspace: join(base, 'elsewhere') } });
    expect(outside).toMatchObject({ status: 400, body: { code: 'WORKSPACE_OUTSIDE_ROOTS' } });
    const escape = await call('POST', '/api/v1/plans', { token: team.key, body: { requirement: 'x y z', workspace: `${teamRoot}/../elsewhere` } });
    expect(escape).toMatchObject({ status: 400, body: { code: 'WORKSPACE_OUTSIDE_ROOTS' } });
    const inside = await call('POST', '/api/v1/sessions', { token: team.key, body: { title: 'in', prompt: 'p', workspace: join(teamRoot, 'app') } });
    expect(inside).toMatchObject({ status: 201, body: { createdByKeyId: team.id, workspace: join(teamRoot, 'app') } });
    expect((await call('POST', `/api/v1/sessions/${inside.body.id}/cancel`, { token: team.key })).status).toBe(202);

    // Nor can it start, retry, cancel, edit or delete what another key made outside its roots.
    const foreign = await call('POST', '/api/v1/sessions', { token: operator.key, body: { title: 'other team', prompt: 'p', workspace: join(base, 'elsewhere') } });
    expect(foreign.status).toBe(201);
    for (const [method, path] of [['POST', 'start'], ['POST', 'cancel'], ['POST', 'retry'], ['DELETE', '']]) {
      const res = await call(method, `/api/v1/sessions/${foreign.body.id}${path ? `/${path}` : ''}`, { token: team.key });
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 403, code: 'FORBIDDEN' });
    }
    expect((await call('GET', `/api/v1/sessions/${foreign.body.id}`, { token: operator.key })).body.status).toBe('PENDING');
    const foreignPlan = await call('POST', '/api/v1/plans', { token: operator.key, body: { requirement: 'Add a health endpoint', workspace: join(base, 'elsewhere') } });
    const run = await call('POST', `/api/v1/plans/${foreignPlan.body.id}/run`, { token: team.key });
    expect(run).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', details: { keyRoots: [teamRoot] } } });

    // A key made by a key with roots reaches no further than it.
    const teamAdmin = await issue('admin', { workspaceRoots: [teamRoot] });
    const wider = await call('POST', '/api/v1/keys', { token: teamAdmin.key, body: { name: 'wider', role: 'viewer', workspaceRoots: [base] } });
    expect(wider).toMatchObject({ status: 400, body: { code: 'WORKSPACE_OUTSIDE_ROOTS' } });
    const inherited = await call('POST', '/api/v1/keys', { token: teamAdmin.key, body: { name: 'sub', role: 'viewer' } });
    expect(inherited.body).toMatchObject({ workspaceRoots: [teamRoot], createdByKeyId: teamAdmin.id });
    secrets.push(inherited.body.key);
  });

  it('never shows a secret or its hash after creation', async () => {
    const list = await call('GET', '/api/v1/keys', { token: API_KEY });
    expect(list.status).toBe(200);
    const mine = (list.body as Array<Record<string, unknown>>).filter((k) => [viewer.id, operator.id, admin.id].includes(k.id as string));
    expect(mine).toHaveLength(3);
    expect(Object.keys(mine[0]).sort()).toEqual(
      ['budget', 'createdAt', 'createdByKeyId', 'expiresAt', 'id', 'name', 'prefix', 'revokedAt', 'role', 'spendToday', 'status', 'updatedAt', 'version', 'workspaceRoots'].sort(),
    );
    const text = JSON.stringify(list.body);
    for (const secret of secrets.filter((s) => s !== API_KEY)) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(createHash('sha256').update(secret).digest('hex'));
    }
    expect(mine.find((k) => k.id === viewer.id)?.prefix).toBe(viewer.key.slice(0, 12));
    const stored = await db.query('SELECT key_hash FROM api_keys WHERE id = $1', [viewer.id]);
    expect(stored).toEqual([{ key_hash: createHash('sha256').update(viewer.key).digest('hex') }]);
  });

  it('takes ?access_token= for a GET of the event streams only, and keeps it out of the logs', async () => {
    const stream = await call('GET', `/api/v1/events?access_token=${viewer.key}`);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    expect((await call('GET', `/API/v1/Events/?access_token=${viewer.key}`)).status).toBe(200);
    expect((await call('GET', `/api/v1/sessions?access_token=${viewer.key}`)).status).toBe(401);
    expect((await call('POST', `/api/v1/sessions?access_token=${operator.key}`, { body: {} })).status).toBe(401);
  });

  it('lets the CLI work with any key, within the key\'s role', async () => {
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const io = { stdout: (x: string) => out.push(x), stderr: (x: string) => out.push(x), onInterrupt: () => () => undefined, readStdin: async () => '', cwd: base };
      const code = await runCli(['--url', `http://127.0.0.1:${port}`, ...args], {}, io, false);
      return { code, output: out.join('\n') };
    };
    expect(await cli('--api-key', viewer.key, 'sessions', '--limit', '1')).toMatchObject({ code: 0 });
    expect(await cli('sessions')).toMatchObject({ code: 1, output: expect.stringContaining('UNAUTHORIZED') });
    const refused = await cli('--api-key', viewer.key, 'run', '--workspace', teamRoot, '--prompt', 'p', '--no-follow');
    expect(refused).toMatchObject({ code: 1, output: expect.stringMatching(/FORBIDDEN: This needs the operator role/) });
    const run = await cli('--api-key', operator.key, '--json', 'run', '--workspace', teamRoot, '--prompt', 'p', '--no-follow');
    expect(run.code).toBe(0);
    const id = /[0-9a-f]{8}-[0-9a-f-]{27}/.exec(run.output)![0];
    expect((await cli('--api-key', operator.key, 'cancel', id)).code).toBe(0);
  });

  it('leaves the public routes open: health, docs and their files, the OpenAPI document, metrics', async () => {
    for (const path of ['/health/live', '/health/ready', '/docs', '/docs/', '/docs/swagger-ui.css', '/docs-json', '/metrics', '/HEALTH/live/']) {
      expect({ path, status: (await call('GET', path)).status }).toEqual({ path, status: 200 });
    }
    expect((await call('GET', '/docs-json')).body.paths['/api/v1/keys']).toBeDefined();
  });

  it('writes no secret into any log line', () => {
    expect(lines.length).toBeGreaterThan(20);
    const text = JSON.stringify(lines);
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).toContain('access_token=[redacted]');
  });
});

describe('Refusal to start on a non-loopback HOST without API_KEY', () => {
  /** The real entry point, as `npm run start:api` runs it, but through ts-node (no build needed). */
  function start(entry: string): Promise<{ code: number | null; output: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, HOST: '0.0.0.0', TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_SWC: 'true' };
    delete env.API_KEY;
    const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', join(ROOT, entry)], { cwd: ROOT, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, output })));
  }

  it('the API and the worker exit non-zero with a message naming API_KEY', async () => {
    const [api, worker] = await Promise.all([start('apps/api/src/main.ts'), start('apps/worker/src/main.ts')]);
    for (const { code, output } of [api, worker]) {
      expect(code).not.toBe(0);
      expect(code).not.toBeNull();
      expect(output).toMatch(/API_KEY is not set while HOST="0\.0\.0\.0" is not a loopback address/);
      expect(output).not.toMatch(/listening|Session worker running/i);
    }
  });
});

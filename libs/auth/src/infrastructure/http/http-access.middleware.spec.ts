import { Writable } from 'node:stream';
import { Logger } from '@nestjs/common';
import { AppConfig, validateEnvironment } from '@app/config';
import { createRootLogger } from '@app/observability';
import { OutageClassifier } from '@app/platform';
import { ANONYMOUS_PRINCIPAL, Principal } from '@app/shared';
import type { WorkspacePort } from '@app/workspace';
import express from 'express';
import request from 'supertest';
import { ApiKeyService } from '../../application/api-key.service';
import { InMemoryApiKeyRepository, InMemoryKeySpendLimits } from '@app/auth/testing';
import { HttpAccessMiddleware } from './http-access.middleware';
import { RequestAuthenticator } from './request-authenticator';

const API_KEY = 'bootstrap-secret-123';

/** The middleware in front of a stand-in for the app: a Nest-like route, Bull Board's router, Swagger's files. */
async function setup(apiKey: string | null = API_KEY) {
  const lines: Array<Record<string, unknown>> = [];
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  const repo = new InMemoryApiKeyRepository();
  const config = new AppConfig(validateEnvironment(apiKey ? { API_KEY: apiKey } : {}));
  const keys = new ApiKeyService(repo, {} as WorkspacePort, config, new InMemoryKeySpendLimits());
  // LOG_LEVEL=error: audit lines are written all the same.
  const access = new HttpAccessMiddleware(new RequestAuthenticator(keys), createRootLogger({ level: 'error', destination: logs }), new OutageClassifier(config));
  const app = express();
  app.use((req, _res, next) => {
    (req as { id?: string }).id = 'corr-1';
    next();
  });
  app.use(access.handle);
  const who = (req: express.Request, res: express.Response) => res.json((req as { principal?: Principal }).principal ?? null);
  app.get('/api/v1/sessions', who);
  app.post('/api/v1/sessions', (_req, res) => res.status(201).json({ ok: true }));
  app.get('/api/v1/sessions/:id/stream', who);
  app.get('/api/v1/events', who);
  app.get('/health/live', who);
  app.get('/docs/swagger-ui.css', (_req, res) => res.send('css'));
  const board = express.Router();
  board.get('/', (_req, res) => res.send('board'));
  board.put('/api/queues/:name/pause', (_req, res) => res.json({ paused: true }));
  app.use('/queues', board);
  const viewer = await keys.create({ name: 'looker', role: 'viewer' }, ANONYMOUS_PRINCIPAL);
  const admin = await keys.create({ name: 'boss', role: 'admin' }, ANONYMOUS_PRINCIPAL);
  return { app, lines, keys, repo, viewer: viewer.secret, viewerId: viewer.key.id, admin: admin.secret };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('HttpAccessMiddleware', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After when the key cannot be looked up because PostgreSQL is away, 500 on any other failure', async () => {
    const { app, repo, viewer } = await setup();
    const port = new AppConfig(validateEnvironment({})).database.port;
    repo.findByHash = async () => {
      throw Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), { code: 'ECONNREFUSED', syscall: 'connect', port });
    };
    const away = await request(app).get('/api/v1/sessions').set(bearer(viewer));
    expect(away.status).toBe(503);
    expect(away.body).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE', details: { retryable: true } });
    expect(away.body.message).toContain('PostgreSQL');
    expect(Number(away.headers['retry-after'])).toBeGreaterThan(0);

    repo.findByHash = async () => {
      throw new Error('a bug');
    };
    const broken = await request(app).get('/api/v1/sessions').set(bearer(viewer));
    expect(broken.status).toBe(500);
    expect(broken.body.code).toBe('INTERNAL');
  });

  it('wants a key on every path but the public ones, however the path is spelt', async () => {
    const { app, viewer } = await setup();
    for (const path of ['/api/v1/sessions', '/API/v1/sessions', '/Api/v1/sessions/', '//api//v1/sessions', '/%61pi/v1/sessions', '/nope', '/docs-yaml']) {
      const res = await request(app).get(path);
      expect({ path, status: res.status }).toEqual({ path, status: 401 });
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body).toEqual({ statusCode: 401, code: 'UNAUTHORIZED', message: expect.stringMatching(/Authorization: Bearer/) });
    }
    await request(app).get('/API/v1/sessions').set(bearer(viewer)).expect(200);
    await request(app).get('/Api/v1/sessions/').set(bearer(API_KEY)).expect(200);
    await request(app).get('/health/live').expect(200);
    await request(app).get('/HEALTH/live/').expect(200);
    await request(app).get('/docs/swagger-ui.css').expect(200);
    await request(app).get('/health/live').set(bearer('wrong')).expect(200); // public: the key is not even read
  });

  it('answers 401 for an unknown, revoked or expired key, with the reason', async () => {
    const { app, keys, repo, viewer, viewerId } = await setup();
    expect((await request(app).get('/api/v1/sessions').set(bearer('oio_' + 'x'.repeat(43))).expect(401)).body.message).toBe('The API key is not valid');
    await keys.revoke(viewerId);
    expect((await request(app).get('/api/v1/sessions').set(bearer(viewer)).expect(401)).body.message).toBe('The API key was revoked');
    const { key, secret } = await keys.create({ name: 'brief', role: 'admin', expiresAt: new Date(Date.now() + 60_000) }, ANONYMOUS_PRINCIPAL);
    await request(app).get('/api/v1/sessions').set(bearer(secret)).expect(200);
    repo.rows.set(key.id, { ...repo.rows.get(key.id)!, expiresAt: new Date(Date.now() - 1) });
    expect((await request(app).get('/api/v1/sessions').set(bearer(secret)).expect(401)).body.message).toBe('The API key has expired');
  });

  it('lets every key look at the job dashboard, however spelt, and only admin act on it', async () => {
    const { app, viewer, admin } = await setup();
    for (const path of ['/queues', '/QUEUES', '/Queues/']) {
      await request(app).get(path).expect(401);
      await request(app).get(path).set(bearer(viewer)).expect(200);
    }
    await request(app).put('/queues/api/queues/q/pause').expect(401);
    const refused = await request(app).put('/QUEUES/api/queues/q/pause').set(bearer(viewer)).expect(403);
    expect(refused.body).toEqual({
      statusCode: 403,
      code: 'FORBIDDEN',
      message: 'This needs the admin role; the key "looker" is viewer',
      details: { requiredRole: 'admin', role: 'viewer' },
    });
    await request(app).put('/queues/api/queues/q/pause').set(bearer(admin)).expect(200);
    await request(app).put('/queues/api/queues/q/pause').set(bearer(API_KEY)).expect(200);
  });

  it('takes ?access_token= for a GET of the event streams only', async () => {
    const { app, viewer } = await setup();
    expect((await request(app).get(`/api/v1/events?access_token=${viewer}`).expect(200)).body).toMatchObject({ name: 'looker' });
    await request(app).get(`/API/v1/sessions/abc/stream/?access_token=${viewer}`).expect(200);
    await request(app).get(`/api/v1/sessions?access_token=${viewer}`).expect(401);
    await request(app).post(`/api/v1/sessions?access_token=${viewer}`).expect(401);
    await request(app).get('/api/v1/events?access_token=wrong').expect(401);
  });

  it('with API_KEY unset, lets everyone in as the anonymous admin', async () => {
    const { app } = await setup(null);
    expect((await request(app).get('/api/v1/sessions').expect(200)).body).toEqual(ANONYMOUS_PRINCIPAL);
    await request(app).put('/queues/api/queues/q/pause').expect(200);
  });

  it('writes one audit line per mutating request, refused or not, without the secret, whatever LOG_LEVEL', async () => {
    const { app, lines, viewer, admin } = await setup();
    await request(app).get('/api/v1/sessions').set(bearer(viewer)).expect(200);
    await request(app).post('/Api/v1/sessions').expect(401);
    await request(app).put('/queues/api/queues/q/pause').set(bearer(viewer)).expect(403);
    await request(app).post('/api/v1/sessions').set(bearer(admin)).expect(201);
    const audit = lines.filter((l) => l.msg === 'audit');
    expect(audit).toEqual([
      expect.objectContaining({ keyId: null, keyName: null, role: null, refused: 'missing', method: 'POST', route: 'unmatched', path: '/api/v1/sessions', status: 401, correlationId: 'corr-1' }),
      expect.objectContaining({ keyName: 'looker', role: 'viewer', method: 'PUT', route: 'unmatched', path: '/queues/api/queues/q/pause', status: 403 }),
      expect.objectContaining({ keyName: 'boss', role: 'admin', method: 'POST', route: '/api/v1/sessions', status: 201, level: 'info' }),
    ]);
    expect(audit[2].keyId).toMatch(/^[0-9a-f-]{36}$/);
    expect(audit.filter((l) => 'aborted' in l)).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain(admin);
    expect(JSON.stringify(lines)).not.toContain(viewer);
  });
});

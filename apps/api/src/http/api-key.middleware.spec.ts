import express from 'express';
import request from 'supertest';
import { apiKeyMiddleware } from './api-key.middleware';
import { redactToken } from './request-context.middleware';

describe('apiKeyMiddleware', () => {
  const app = express();
  app.use(apiKeyMiddleware('s3cret'));
  app.get('/api/v1/sessions/:id', (_req, res) => res.json({ ok: true }));
  app.get('/api/v1/sessions/:id/stream', (_req, res) => res.json({ ok: true }));
  app.get('/api/v1/events', (_req, res) => res.json({ ok: true }));
  app.post('/api/v1/events', (_req, res) => res.json({ ok: true }));
  app.get('/health/live', (_req, res) => res.json({ ok: true }));

  it('wants the bearer header on /api, and leaves health open', async () => {
    await request(app).get('/api/v1/sessions/1').expect(401);
    await request(app).get('/api/v1/sessions/1').set('authorization', 'Bearer s3cret').expect(200);
    await request(app).get('/api/v1/sessions/1').set('authorization', 'Bearer wrong').expect(401);
    await request(app).get('/health/live').expect(200);
  });

  it('takes ?access_token= for a GET of the event streams only (EventSource sends no headers)', async () => {
    await request(app).get('/api/v1/sessions/1/stream?access_token=s3cret').expect(200);
    await request(app).get('/api/v1/events?access_token=s3cret&types=transition').expect(200);
    await request(app).get('/api/v1/events?access_token=wrong').expect(401);
    await request(app).get('/api/v1/sessions/1?access_token=s3cret').expect(401);
    await request(app).post('/api/v1/events?access_token=s3cret').expect(401);
  });

  it('never logs the token', () => {
    expect(redactToken('/api/v1/events?types=text&access_token=s3cret')).toBe('/api/v1/events?types=text&access_token=[redacted]');
    expect(redactToken('/api/v1/sessions/1/stream?access_token=s3cret&x=1')).toBe('/api/v1/sessions/1/stream?access_token=[redacted]&x=1');
  });
});

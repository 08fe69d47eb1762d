import { Writable } from 'node:stream';
import { createRootLogger, currentCorrelationId, Metrics, UNMATCHED_ROUTE } from '@app/observability';
import express from 'express';
import request from 'supertest';
import { httpMetricsMiddleware } from './http-metrics.middleware';
import { requestContextMiddleware } from './request-context.middleware';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('the API request middlewares', () => {
  const { lines, stream } = capture();
  const metrics = new Metrics({ defaultMetrics: false });
  const logger = createRootLogger({ level: 'log', destination: stream });
  const app = express();
  app.use(requestContextMiddleware(logger));
  app.use(httpMetricsMiddleware(metrics));
  app.get('/api/v1/sessions/:id', (req, res) => {
    logger.info('inside the handler');
    res.json({ id: req.params.id, correlationId: currentCorrelationId() });
  });
  app.get('/api/v1/stream', (_req, res) => {
    res.setHeader('content-type', 'text/event-stream');
    res.end('data: x\n\n');
  });

  beforeEach(() => lines.splice(0));

  it("echoes the client's x-request-id, and every line of the request carries it", async () => {
    const res = await request(app).get('/api/v1/sessions/123').set('x-request-id', 'test-123').expect(200);
    expect(res.headers['x-request-id']).toBe('test-123');
    expect(res.body.correlationId).toBe('test-123');
    expect(lines.find((l) => l.msg === 'inside the handler')).toMatchObject({ correlationId: 'test-123' });
    const done = lines.find((l) => l.msg === 'request completed');
    expect(done).toMatchObject({ correlationId: 'test-123', req: { method: 'GET', url: '/api/v1/sessions/123' }, res: { statusCode: 200 } });
    expect(JSON.stringify(done)).not.toMatch(/authorization|headers/i);
    // One correlationId key, not two.
    expect(JSON.stringify(done).match(/"correlationId"/g)).toHaveLength(1);
  });

  it('makes an id when none (or a bad one) is sent', async () => {
    const a = await request(app).get('/api/v1/sessions/1');
    const b = await request(app).get('/api/v1/sessions/1').set('x-request-id', 'bad id with spaces');
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.headers['x-request-id']).not.toBe(b.headers['x-request-id']);
  });

  it('labels requests by route pattern, never by raw path; unmatched ones as such; event streams not at all', async () => {
    await request(app).get('/api/v1/sessions/aaa').expect(200);
    await request(app).get('/api/v1/sessions/bbb').expect(200);
    await request(app).get('/nope/123').expect(404);
    await request(app).get('/api/v1/stream').expect(200);
    const text = await metrics.scrape();
    expect(text).toContain('orchestrator_http_request_duration_seconds_count{method="GET",route="/api/v1/sessions/:id",status="200"}');
    expect(text).toContain(`orchestrator_http_request_duration_seconds_count{method="GET",route="${UNMATCHED_ROUTE}",status="404"}`);
    expect(text).not.toMatch(/route="[^"]*(aaa|bbb|nope|stream)/);
  });
});

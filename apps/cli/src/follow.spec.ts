import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, ApiError } from './api-client';
import { followSession } from './follow';
import { StreamEnvelope } from './views';

const ID = '11111111-1111-4111-8111-111111111111';

/** A stand-in HTTP server (not the orchestrator): each test sets how it answers. */
let handler: (req: IncomingMessage, res: ServerResponse) => void;
let server: Server;
let api: ApiClient;

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  api = new ApiClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, json: false });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
const sse = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ sessionId: ID, type, at: new Date().toISOString(), data })}\n\n`;

describe('followSession', () => {
  it('follows the stream to the final transition, calling onListening after the first event', async () => {
    const order: string[] = [];
    handler = (req, res) => {
      order.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse('snapshot', { id: ID, status: 'PENDING' }));
      setTimeout(() => {
        res.write(sse('transition', { from: 'PENDING', to: 'QUEUED', session: { status: 'QUEUED' } }));
        res.end(sse('transition', { from: 'QUEUED', to: 'FAILED', session: { id: ID, status: 'FAILED', error: { code: 'X', message: 'y' } } }) + sse('end', { status: 'FAILED' }));
      }, 30);
    };
    const events: StreamEnvelope[] = [];
    const final = await followSession(api, ID, {
      onEvent: (e) => events.push(e),
      onListening: async () => {
        order.push('listening');
      },
    });
    expect(order).toEqual([`GET /api/v1/sessions/${ID}/stream`, 'listening']);
    expect(events.map((e) => e.type)).toEqual(['snapshot', 'transition', 'transition', 'end']);
    expect(final).toMatchObject({ status: 'FAILED', error: { code: 'X' } });
  });

  it('reconnects when the stream breaks before the end, and goes on from the new snapshot', async () => {
    let connections = 0;
    handler = (_req, res) => {
      connections++;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (connections === 1) {
        res.write(sse('snapshot', { id: ID, status: 'RUNNING' }));
        setTimeout(() => res.destroy(), 20);
      } else {
        res.end(sse('snapshot', { id: ID, status: 'COMPLETED', result: { summary: '', filesChanged: [] } }) + sse('end', { status: 'COMPLETED' }));
      }
    };
    const final = await followSession(api, ID, { onEvent: () => undefined });
    expect(connections).toBe(2);
    expect(final.status).toBe('COMPLETED');
  });

  it('falls back to polling the session and its history when the server has no stream route', async () => {
    let reads = 0;
    const history = [
      { from: null, to: 'PENDING', reason: 'created', attempt: 1, at: '2025-01-01T00:00:00Z' },
      { from: 'PENDING', to: 'QUEUED', reason: 'start requested', attempt: 1, at: '2025-01-01T00:00:01Z' },
    ];
    handler = (req, res) => {
      if (req.url?.endsWith('/stream')) return json(res, 404, { statusCode: 404, code: 'NOT_FOUND', message: 'Cannot GET' });
      if (req.url?.endsWith('/events')) {
        if (reads === 1) history.push({ from: 'QUEUED', to: 'RUNNING', reason: 'picked up', attempt: 1, at: '2025-01-01T00:00:02Z' });
        if (reads === 2) history.push({ from: 'RUNNING', to: 'COMPLETED', reason: 'done', attempt: 1, at: '2025-01-01T00:00:03Z' });
        return json(res, 200, history);
      }
      reads++;
      return json(res, 200, { id: ID, status: history[history.length - 1].to, attempt: 1, version: history.length });
    };
    const events: StreamEnvelope[] = [];
    const fallbacks: string[] = [];
    let listened = 0;
    const final = await followSession(api, ID, {
      onEvent: (e) => events.push(e),
      onListening: async () => void listened++,
      onFallback: (why) => fallbacks.push(why),
      pollIntervalMs: 5,
    });
    expect(fallbacks).toEqual(['the server has no session stream; polling every second']);
    expect(listened).toBe(1);
    expect(events.map((e) => (e.type === 'snapshot' ? `snapshot(${e.data.status})` : `${e.data.from}->${e.data.to}`))).toEqual([
      'snapshot(QUEUED)',
      'QUEUED->RUNNING',
      'RUNNING->COMPLETED',
    ]);
    expect(events[2].data.session).toMatchObject({ id: ID, status: 'COMPLETED' });
    expect(final.status).toBe('COMPLETED');
  });

  it('reports an unknown session with the API\'s code, not as a missing route', async () => {
    handler = (_req, res) => json(res, 404, { statusCode: 404, code: 'SESSION_NOT_FOUND', message: 'Session x not found' });
    await expect(followSession(api, ID, { onEvent: () => undefined })).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND', exitCode: 1 });
  });

  it('stops when aborted (Ctrl-C)', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(sse('snapshot', { id: ID, status: 'RUNNING' }));
    };
    const aborter = new AbortController();
    const following = followSession(api, ID, { onEvent: () => aborter.abort(new Error('interrupted')), signal: aborter.signal });
    await expect(following).rejects.toThrow('interrupted');
  });

  it('says CONNECTION_FAILED when the API cannot be reached', async () => {
    const nowhere = new ApiClient({ url: 'http://127.0.0.1:1', json: false });
    const err = await followSession(nowhere, ID, { onEvent: () => undefined }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'CONNECTION_FAILED', exitCode: 1 });
  });
});

import { get as httpGet, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { METRIC, Metrics } from '@app/observability';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const API_KEY = 'stream-limits-e2e-key';
const MAX_EVENT_STREAMS = 4;
const MAX_EVENT_STREAMS_PER_KEY = 2;

/** One GET of an event stream: open (200, headers sent) or answered at once (an error, 204). */
interface StreamAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The JSON body of an answer that is not a stream. */
  body?: { statusCode: number; code: string; message: string; details?: Record<string, unknown> };
  /** Resolves when the server closed the stream (or the client did). */
  closed: Promise<void>;
  /** The client leaves. */
  close(): void;
}

function openStream(base: string, path: string, key: string, headers: Record<string, string> = {}): Promise<StreamAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${base}${path}`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${key}`, ...headers } }, (res: IncomingMessage) => {
      const closed = new Promise<void>((done) => res.on('close', done));
      const answer = { status: res.statusCode ?? 0, headers: res.headers, closed, close: () => res.destroy() };
      if (String(res.headers['content-type']).startsWith('text/event-stream')) {
        res.resume(); // events are not what this file checks
        return resolve(answer);
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ ...answer, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
  });
}

/**
 * The caps on event streams (MAX_EVENT_STREAMS per API process, MAX_EVENT_STREAMS_PER_KEY per
 * API key), low here: both stream endpoints count, a stream over a cap is refused with 503
 * TOO_MANY_STREAMS and Retry-After before anything is streamed, and every way a stream ends
 * (the client leaves, the server ends it, an error before it starts) gives its slot back.
 */
describe('Event stream limits', () => {
  let t: TestApp;
  let base: string;
  const open: StreamAnswer[] = [];
  let alice: string;
  let bob: string;
  let carol: string;
  let appClosed = false;

  const stream = async (path: string, key: string, headers?: Record<string, string>) => {
    const answer = await openStream(base, path, key, headers);
    if (answer.status === 200) open.push(answer);
    return answer;
  };
  const metric = async (name: string, labels = '') => {
    const text = (await t.http.get('/metrics').expect(200)).text;
    const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const openOnServer = (count: number) =>
    waitFor(() => metric(METRIC.eventStreams), (value) => value === count, { timeoutMs: 10_000, intervalMs: 50, what: `${count} streams open on the server` });
  const issueKey = async (name: string) => {
    const res = await t.http.post('/api/v1/keys').set('authorization', `Bearer ${API_KEY}`).send({ name, role: 'operator' }).expect(201);
    return res.body.key as string;
  };
  const closeAll = async () => {
    for (const answer of open.splice(0)) answer.close();
    if (!appClosed) await openOnServer(0);
  };

  beforeAll(async () => {
    t = await createTestApp({
      withWorker: false,
      env: { API_KEY, MAX_EVENT_STREAMS: String(MAX_EVENT_STREAMS), MAX_EVENT_STREAMS_PER_KEY: String(MAX_EVENT_STREAMS_PER_KEY) },
    });
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
    [alice, bob, carol] = [await issueKey('alice'), await issueKey('bob'), await issueKey('carol')];
  });
  afterEach(closeAll);
  afterAll(() => t?.close());

  it('refuses a key its next stream above MAX_EVENT_STREAMS_PER_KEY with 503, Retry-After and the code, while other keys still stream', async () => {
    const refusedBefore = (await metric(METRIC.eventStreamsRefused, '{limit="key"}')) ?? NaN;
    expect((await stream('/api/v1/events', alice)).status).toBe(200);
    expect((await stream('/api/v1/events?types=transition', alice)).status).toBe(200);
    await openOnServer(2);

    const refused = await stream('/api/v1/events', alice);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.headers['content-type']).toMatch(/^application\/json/);
    expect(refused.body).toEqual({
      statusCode: 503,
      code: 'TOO_MANY_STREAMS',
      message: `The key "alice" has ${MAX_EVENT_STREAMS_PER_KEY} event streams open on this API process, its limit (MAX_EVENT_STREAMS_PER_KEY); close one or retry in 5 s`,
      details: { limit: 'MAX_EVENT_STREAMS_PER_KEY', max: MAX_EVENT_STREAMS_PER_KEY, retryable: true },
    });
    expect(await metric(METRIC.eventStreamsRefused, '{limit="key"}')).toBe(refusedBefore + 1);

    expect((await stream('/api/v1/events', bob)).status).toBe(200);
    await openOnServer(3);
  });

  it('refuses every key above MAX_EVENT_STREAMS, and a stream the client closes frees its slot', async () => {
    const first = await stream('/api/v1/events', alice);
    await stream('/api/v1/events', alice);
    await stream('/api/v1/events', bob);
    await stream('/api/v1/events', bob);
    expect(open.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
    await openOnServer(MAX_EVENT_STREAMS);

    const refused = await stream('/api/v1/events', carol);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.body).toMatchObject({
      code: 'TOO_MANY_STREAMS',
      message: `This API process has ${MAX_EVENT_STREAMS} event streams open, its limit (MAX_EVENT_STREAMS); retry in 5 s`,
      details: { limit: 'MAX_EVENT_STREAMS', max: MAX_EVENT_STREAMS, retryable: true },
    });
    expect(await metric(METRIC.eventStreamsRefused, '{limit="process"}')).toBeGreaterThanOrEqual(1);

    first.close();
    open.splice(open.indexOf(first), 1);
    await openOnServer(MAX_EVENT_STREAMS - 1);
    expect((await stream('/api/v1/events', carol)).status).toBe(200);
    expect((await stream('/api/v1/events', alice)).status).toBe(503); // the process is full again
  });

  it('counts session streams too, and frees the slot of a stream the server ended or that failed before it started', async () => {
    const workspace = makeTempWorkspace();
    const created = await t.http.post('/api/v1/sessions').set('authorization', `Bearer ${API_KEY}`).send({ title: 'limits', workspace, prompt: 'x' }).expect(201);
    const pending = created.body.id as string;
    const done = (await t.http.post('/api/v1/sessions').set('authorization', `Bearer ${API_KEY}`).send({ title: 'done', workspace, prompt: 'x' }).expect(201)).body.id as string;
    await t.http.post(`/api/v1/sessions/${done}/cancel`).set('authorization', `Bearer ${API_KEY}`).expect((res) => expect(res.status).toBeLessThan(300));

    // alice: one slot taken by a PENDING session's stream (open until she leaves), one left.
    expect((await stream(`/api/v1/sessions/${pending}/stream`, alice)).status).toBe(200);
    await openOnServer(1);
    // A finished session: snapshot and end, then the server closes the stream; each time the slot comes back.
    for (let i = 0; i < 3; i++) {
      const finished = await stream(`/api/v1/sessions/${done}/stream`, alice);
      expect(finished.status).toBe(200);
      await finished.closed;
      open.splice(open.indexOf(finished), 1);
    }
    // Refused before it started (404, JSON), three times: no slot kept.
    for (let i = 0; i < 3; i++) {
      const missing = await stream('/api/v1/sessions/00000000-0000-4000-8000-000000000000/stream', alice);
      expect(missing.status).toBe(404);
      expect(missing.body?.code).toBe('SESSION_NOT_FOUND');
    }
    // An EventSource back after the end: 204 without a slot.
    expect((await stream(`/api/v1/sessions/${done}/stream`, alice, { 'last-event-id': 'end' })).status).toBe(204);
    await openOnServer(1);

    expect((await stream(`/api/v1/sessions/${pending}/stream`, alice)).status).toBe(200);
    const refused = await stream(`/api/v1/sessions/${pending}/stream`, alice);
    expect(refused.status).toBe(503);
    expect(refused.body?.code).toBe('TOO_MANY_STREAMS');
    expect(refused.headers['retry-after']).toBe('5');
  });

  it('ends the open streams and gives their slots back when the app closes', async () => {
    const streams = [await stream('/api/v1/events', alice), await stream('/api/v1/events', bob)];
    await openOnServer(2);
    const metrics = t.app.get(Metrics);
    await t.close();
    appClosed = true;
    await Promise.all(streams.map((answer) => answer.closed));
    expect((await metrics.eventStreams.get()).values.map((v) => v.value)).toEqual([0]);
  });
});

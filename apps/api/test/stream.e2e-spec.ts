import { readFileSync } from 'node:fs';
import { get as httpGet, IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';
import { startWorkerProcess, WorkerProcess } from '../../../test/support/worker-process';

/** One parsed server-sent event; `data` is the JSON envelope {sessionId, type, seq?, at, data}. */
interface StreamEvent {
  id?: string;
  event: string;
  data: { sessionId: string; type: string; seq?: number; at: string; data: Record<string, any> };
}

/** A minimal SSE client over http.get: what a browser's EventSource would see, plus comments and the end of the body. */
class SseClient {
  readonly events: StreamEvent[] = [];
  readonly comments: string[] = [];
  /** Resolves when the server closes the stream. */
  readonly ended: Promise<void>;
  private res?: IncomingMessage;
  private endedFlag = false;
  private markEnded!: () => void;

  private constructor(readonly status: number, readonly headers: IncomingMessage['headers'], readonly body: string) {
    this.ended = new Promise((resolve) => (this.markEnded = resolve));
  }

  static connect(base: string, path: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const req = httpGet(`${base}${path}`, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
        if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(new SseClient(res.statusCode ?? 0, res.headers, body)));
          return;
        }
        const client = new SseClient(200, res.headers, '');
        client.res = res;
        const parser = createParser({
          onEvent: (e) => client.events.push({ id: e.id, event: e.event ?? 'message', data: JSON.parse(e.data) }),
          onComment: (c) => client.comments.push(c.trim()),
        });
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => parser.feed(chunk));
        res.on('close', () => {
          client.endedFlag = true;
          client.markEnded();
        });
        resolve(client);
      });
      req.on('error', reject);
    });
  }

  get isEnded(): boolean {
    return this.endedFlag;
  }

  async waitFor(what: string, done: (events: StreamEvent[]) => boolean, timeoutMs = 30_000): Promise<void> {
    await waitFor(async () => this.events, done, { timeoutMs, intervalMs: 20, what }).catch((err: Error) => {
      throw new Error(`${err.message.split(';')[0]}; got: ${this.describe()}`);
    });
  }

  async waitForEnd(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ended,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`stream did not end; got: ${this.describe()}`)), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.res?.destroy();
  }

  /** e.g. "snapshot(PENDING) transition(PENDING→QUEUED) tool(write:pending) files(a.txt) text end" */
  describe(): string {
    return this.events.map(label).join(' ');
  }
}

function label({ data: e }: StreamEvent): string {
  switch (e.type) {
    case 'snapshot':
      return `snapshot(${e.data.status})`;
    case 'transition':
      return `transition(${e.data.from}→${e.data.to})`;
    case 'tool':
      return `tool(${e.data.tool}:${e.data.status})`;
    case 'files':
      return `files(${e.data.files.join(',')})`;
    case 'activity':
      return `activity(${e.data.state})`;
    default:
      return e.type;
  }
}

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

const WRITE_SLOWLY = '[[slow 3]][[write a.txt]]x[[/write]]';

/** The checks every full run of WRITE_SLOWLY must pass, seen from a client connected before its start. */
function expectFullRun(client: SseClient, sessionId: string, summary: string): void {
  const events = client.events;
  const labels = events.map(label);
  // SSE framing: every event has an id and its type as event name; all of this one session.
  for (const e of events) {
    expect(e.event).toBe(e.data.type);
    expect(e.id).toBeTruthy();
    expect(e.data.sessionId).toBe(sessionId);
  }
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  expect(labels[0]).toBe('snapshot(PENDING)');
  expect(events[0].data.data).toMatchObject({ id: sessionId, status: 'PENDING', version: 1, prompt: WRITE_SLOWLY });
  expect(labels.filter((l) => l.startsWith('transition'))).toEqual([
    'transition(PENDING→QUEUED)',
    'transition(QUEUED→RUNNING)',
    'transition(RUNNING→COMPLETED)',
  ]);
  const at = (l: string) => labels.indexOf(l);
  const running = at('transition(QUEUED→RUNNING)');
  const completed = at('transition(RUNNING→COMPLETED)');
  // Every piece of progress comes between RUNNING and COMPLETED.
  const progress = labels.map((l, i) => [l, i] as const).filter(([l]) => !l.startsWith('transition') && !l.startsWith('snapshot') && l !== 'end');
  for (const [, i] of progress) {
    expect(i).toBeGreaterThan(running);
    expect(i).toBeLessThan(completed);
  }
  // The write tool call, at each status, ending completed, with what it works on.
  const tools = events.filter((e) => e.data.type === 'tool').map((e) => e.data.data);
  expect(tools.map((t) => `${t.tool}:${t.status}`)).toEqual(['write:pending', 'write:running', 'write:completed']);
  expect(tools[2]).toMatchObject({ input: 'a.txt', title: expect.stringContaining('a.txt'), attempt: 1 });
  expect(at('files(a.txt)')).toBeGreaterThan(at('tool(write:completed)'));
  // The closing answer streams after the write, in several coalesced pieces that add up to the result.
  const texts = events.filter((e) => e.data.type === 'text');
  expect(texts.length).toBeGreaterThanOrEqual(3);
  expect(labels.indexOf('text')).toBeGreaterThan(at('files(a.txt)'));
  expect(texts.map((e) => e.data.data.delta).join('')).toBe(summary);
  // Transitions carry the session's version as seq, increasing; the final one the outcome.
  const seqs = events.filter((e) => e.data.type === 'transition').map((e) => e.data.seq!);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  expect(events[completed].data.data.session).toMatchObject({ status: 'COMPLETED', result: { filesChanged: ['a.txt'], summary } });
  // Then the end, and the server closes the stream.
  expect(labels.at(-1)).toBe('end');
  expect(events.at(-1)).toMatchObject({ id: 'end', data: { type: 'end', data: { status: 'COMPLETED' } } });
  expect(client.isEnded).toBe(true);
}

describe('Live session events over server-sent events', () => {
  let t: TestApp;
  let base: string;
  const clients: SseClient[] = [];
  const connect = async (path: string, headers?: Record<string, string>) => {
    const client = await SseClient.connect(base, path, headers);
    clients.push(client);
    return client;
  };
  const create = async (app: TestApp, prompt: string, title = 'stream e2e') => {
    const workspace = makeTempWorkspace();
    const res = await app.http.post('/api/v1/sessions').send({ title, workspace, prompt }).expect(201);
    return { id: res.body.id as string, workspace };
  };
  const getSession = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`)).body;

  beforeAll(async () => {
    t = await createTestApp();
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    // An open stream must not hold the server open: closing the app ends it.
    const open = await SseClient.connect(base, '/api/v1/events');
    await t.close();
    await open.waitForEnd(5_000);
  });

  it('streams a run from before its start to its end, and a late client from a RUNNING snapshot', async () => {
    const { id, workspace } = await create(t, WRITE_SLOWLY);
    const early = await connect(`/api/v1/sessions/${id}/stream`);
    expect(early.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(early.headers['cache-control']).toContain('no-cache');
    await early.waitFor('the snapshot', (e) => e.length >= 1);

    await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    await early.waitFor('RUNNING', (events) => events.some((e) => e.data.data.to === 'RUNNING'));
    const late = await connect(`/api/v1/sessions/${id}/stream`);

    await Promise.all([early.waitForEnd(), late.waitForEnd()]).catch(async (err: Error) => {
      const history = (await t.http.get(`/api/v1/sessions/${id}/events`)).body;
      throw new Error(`${err.message}\nsession: ${JSON.stringify(await getSession(id))}\nhistory: ${JSON.stringify(history)}\nlate: ${late.describe()}`);
    });
    const done = await getSession(id);
    expect(done.status).toBe('COMPLETED');
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('x');
    expectFullRun(early, id, done.result.summary);

    // The late client: the state it joined at, then the rest of the run, nothing older, nothing twice.
    const lateLabels = late.events.map(label);
    expect(lateLabels[0]).toBe('snapshot(RUNNING)');
    expect(late.events[0].data.data).toMatchObject({ id, status: 'RUNNING', attempt: 1 });
    expect(late.events[0].data.seq).toBeGreaterThanOrEqual(3);
    expect(lateLabels.filter((l) => l.startsWith('transition'))).toEqual(['transition(RUNNING→COMPLETED)']);
    expect(lateLabels.slice(-2)).toEqual(['transition(RUNNING→COMPLETED)', 'end']);
    const lateText = late.events.filter((e) => e.data.type === 'text').map((e) => e.data.data.delta).join('');
    expect(lateText.length).toBeGreaterThan(0); // it joined while the answer was still streaming
    expect(done.result.summary.endsWith(lateText)).toBe(true);
    expect(late.isEnded).toBe(true);
  });

  it('sends the fleet view the transitions of every session, filtered by session and type', async () => {
    const first = await create(t, 'short answer one');
    const second = await create(t, '[[write b.txt]]b[[/write]]');
    const transitionsOnly = await connect(`/api/v1/events?types=transition&sessionId=${first.id}&sessionId=${second.id}`);
    const everything = await connect('/api/v1/events');
    await waitFor(async () => transitionsOnly.comments, (c) => c.includes('subscribed'), { timeoutMs: 5_000, intervalMs: 20, what: 'the subscribed comment' });

    await t.http.post(`/api/v1/sessions/${first.id}/start`).expect(202);
    await t.http.post(`/api/v1/sessions/${second.id}/start`).expect(202);
    const finished = (c: SseClient, sessionId: string) =>
      c.events.some((e) => e.data.sessionId === sessionId && e.data.type === 'transition' && FINAL.includes(e.data.data.to));
    await transitionsOnly.waitFor('both sessions to finish', () => finished(transitionsOnly, first.id) && finished(transitionsOnly, second.id));

    for (const s of [first, second]) {
      // The creation (∅→PENDING) was published before this client subscribed, but may reach Redis's
      // subscribers after it did: live events have no start line.
      const ofSession = transitionsOnly.events.filter((e) => e.data.sessionId === s.id && e.data.data.from !== null).map(label);
      expect(ofSession).toEqual(['transition(PENDING→QUEUED)', 'transition(QUEUED→RUNNING)', 'transition(RUNNING→COMPLETED)']);
    }
    expect(transitionsOnly.events.every((e) => e.data.type === 'transition')).toBe(true);
    expect(transitionsOnly.isEnded).toBe(false); // the fleet stream stays open

    await everything.waitFor('both sessions on the unfiltered stream', () => finished(everything, first.id) && finished(everything, second.id));
    const types = new Set(everything.events.filter((e) => e.data.sessionId === second.id).map((e) => e.data.type));
    expect([...types]).toEqual(expect.arrayContaining(['transition', 'tool', 'files', 'text', 'activity']));
  });

  it('answers a finished session with its snapshot and the end at once', async () => {
    const { id } = await create(t, 'a quick one');
    await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    await waitFor(() => getSession(id), (s) => FINAL.includes(s.status), { what: 'the session to finish' });
    const client = await connect(`/api/v1/sessions/${id}/stream`);
    await client.waitForEnd(5_000);
    expect(client.events.map(label)).toEqual(['snapshot(COMPLETED)', 'end']);
    // A reconnecting EventSource sends the last id it saw: after the end, 204 stops it.
    const again = await connect(`/api/v1/sessions/${id}/stream`, { 'last-event-id': 'end' });
    expect(again.status).toBe(204);
  });

  it('refuses an unknown or malformed session id, and bad filters, with a JSON error before any stream', async () => {
    const unknown = await connect('/api/v1/sessions/00000000-0000-4000-8000-000000000000/stream');
    expect(unknown.status).toBe(404);
    expect(unknown.headers['content-type']).toMatch(/application\/json/);
    expect(JSON.parse(unknown.body)).toMatchObject({ statusCode: 404, code: 'SESSION_NOT_FOUND' });

    const malformed = await connect('/api/v1/sessions/not-a-uuid/stream');
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.body)).toMatchObject({ statusCode: 400 });

    const badType = await connect('/api/v1/events?types=transition,gossip');
    expect(badType.status).toBe(400);
    expect(JSON.parse(badType.body)).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('each type must be one of') });
    const badId = await connect('/api/v1/events?sessionId=nope');
    expect(JSON.parse(badId.body)).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('sessionId') });
  });

  it('documents both streams in Swagger as text/event-stream', async () => {
    const doc = (await t.http.get('/docs-json').expect(200)).body;
    expect(Object.keys(doc.paths['/api/v1/sessions/{id}/stream'].get.responses['200'].content)).toEqual(['text/event-stream']);
    expect(Object.keys(doc.paths['/api/v1/events'].get.responses['200'].content)).toEqual(['text/event-stream']);
  });
});

/** API and worker in separate OS processes: progress comes from the worker's process, through Redis. */
describe('Live session events with the worker in another process', () => {
  let api: TestApp;
  let worker: WorkerProcess;
  let base: string;
  let client: SseClient | undefined;

  beforeAll(async () => {
    api = await createTestApp({ withWorker: false });
    await api.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
    worker = startWorkerProcess({ LOG_LEVEL: 'log' }); // readiness is read from its log
    await worker.ready;
  });

  afterAll(async () => {
    client?.close();
    await worker.kill();
    await api.close();
  });

  it('streams the run the other process does, in order, to its end', async () => {
    const workspace = makeTempWorkspace();
    const created = await api.http.post('/api/v1/sessions').send({ title: 'cross-process', workspace, prompt: WRITE_SLOWLY }).expect(201);
    const id = created.body.id as string;
    client = await SseClient.connect(base, `/api/v1/sessions/${id}/stream`);
    await client.waitFor('the snapshot', (e) => e.length >= 1);
    await api.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    await client.waitForEnd(60_000).catch(async (err: Error) => {
      const session = (await api.http.get(`/api/v1/sessions/${id}`)).body;
      throw new Error(`${err.message}\nsession: ${JSON.stringify(session)}\nworker: ${worker.output().slice(-3000)}`);
    });

    const done = (await api.http.get(`/api/v1/sessions/${id}`)).body;
    expect(done.status).toBe('COMPLETED');
    expectFullRun(client, id, done.result.summary);
  });
});

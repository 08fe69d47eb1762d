import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openSse, readSse, SseEvent, SseParser } from './sse';

function parseAll(chunks: Array<string | Uint8Array>) {
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = new SseParser({ onEvent: (e) => events.push(e), onComment: (c) => comments.push(c), onRetry: (r) => retries.push(r) });
  for (const c of chunks) parser.feed(c);
  return { events, comments, retries };
}

describe('SseParser', () => {
  it('parses events with id, event name and JSON data, and comments and retry', () => {
    const { events, comments, retries } = parseAll([
      'retry: 3000\n\n: subscribed\n\nid: 1\nevent: snapshot\ndata: {"a":1}\n\nid: end\nevent: end\ndata: {}\n\n',
    ]);
    expect(retries).toEqual([3000]);
    expect(comments).toEqual(['subscribed']);
    expect(events).toEqual([
      { id: '1', event: 'snapshot', data: '{"a":1}' },
      { id: 'end', event: 'end', data: '{}' },
    ]);
  });

  it('gives the same events however the stream is cut, CRLF and CR line ends included', () => {
    const text = 'id: 7\r\nevent: text\r\ndata: {"delta":"héllo"}\r\n\r\nevent: tool\rdata: line one\rdata: line two\r\rdata: plain\n\n';
    const whole = parseAll([text]).events;
    expect(whole).toEqual([
      { id: '7', event: 'text', data: '{"delta":"héllo"}' },
      { event: 'tool', data: 'line one\nline two' },
      { event: 'message', data: 'plain' },
    ]);
    for (let cut = 1; cut < text.length; cut++) expect(parseAll([text.slice(0, cut), text.slice(cut)]).events).toEqual(whole);
    // Bytes cut inside a multi-byte character.
    const bytes = Buffer.from(text, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) expect(parseAll([bytes.subarray(0, cut), bytes.subarray(cut)]).events).toEqual(whole);
  });

  it('follows the format\'s field rules: no space after colon, a BOM, unknown fields, events without data', () => {
    const { events } = parseAll(['\uFEFFdata:x\nfoo: bar\n\nevent: nothing\n\ndata\n\ndata:  two spaces\n\n']);
    expect(events).toEqual([
      { event: 'message', data: 'x' },
      { event: 'message', data: '' },
      { event: 'message', data: ' two spaces' },
    ]);
  });

  it('keeps an unfinished event until its blank line', () => {
    const { events } = parseAll(['data: a\n']);
    expect(events).toEqual([]);
  });
});

describe('openSse / readSse over HTTP', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/stream') {
        expect(req.headers.accept).toBe('text/event-stream');
        expect(req.headers.authorization).toBe('Bearer k');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('event: a\ndata: 1\n\n');
        setTimeout(() => res.end('event: b\ndata: 2\n\n'), 20);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"statusCode":404,"code":"NOT_FOUND","message":"Cannot GET /x"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads a stream to its end', async () => {
    const res = await openSse(`${base}/stream`, { authorization: 'Bearer k' });
    expect(res.kind).toBe('stream');
    const events: SseEvent[] = [];
    if (res.kind === 'stream') await readSse(res.response, { onEvent: (e) => events.push(e) });
    expect(events.map((e) => `${e.event}=${e.data}`)).toEqual(['a=1', 'b=2']);
  });

  it('gives the status and body of a non-stream answer', async () => {
    const res = await openSse(`${base}/x`, {});
    expect(res).toMatchObject({ kind: 'http', status: 404, contentType: 'application/json' });
    if (res.kind === 'http') expect(JSON.parse(res.body).code).toBe('NOT_FOUND');
  });
});

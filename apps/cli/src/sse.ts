import { request as httpRequest, IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** One server-sent event as the SSE format defines it. */
export interface SseEvent {
  /** The `event:` field; "message" when the server sent none. */
  event: string;
  /** The `data:` lines joined with "\n". */
  data: string;
  /** The `id:` field of this event, if it had one (unlike EventSource's lastEventId, not carried over). */
  id?: string;
}

export interface SseParserHandlers {
  onEvent(event: SseEvent): void;
  onComment?(comment: string): void;
  onRetry?(ms: number): void;
}

/**
 * An incremental parser of the text/event-stream format (WHATWG HTML, "server-sent events"):
 * feed it chunks as they arrive, split anywhere (inside a line, between \r and \n, inside a
 * UTF-8 character when fed Buffers), and it calls back once per complete event.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  private hasFields = false;
  private first = true;
  private pendingCR = false;
  private readonly decoder = new TextDecoder('utf-8');

  constructor(private readonly handlers: SseParserHandlers) {}

  feed(chunk: string | Uint8Array): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (this.first && text.length > 0) {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    // A \r that ended the previous chunk already ended its line: a \n right after it is the same line end.
    if (this.pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.pendingCR = false;
    this.buffer += text;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (c !== '\n' && c !== '\r') continue;
      this.line(this.buffer.slice(start, i));
      if (c === '\r') {
        if (i + 1 === this.buffer.length) this.pendingCR = true;
        else if (this.buffer[i + 1] === '\n') i++;
      }
      start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) {
      this.handlers.onComment?.(line.slice(1).replace(/^ /, ''));
      return;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasFields = true;
        break;
      case 'event':
        this.event = value;
        this.hasFields = true;
        break;
      case 'id':
        if (!value.includes('\0')) this.id = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.handlers.onRetry?.(Number(value));
        break;
      default:
        break; // unknown fields are ignored, as the format says
    }
  }

  private dispatch(): void {
    // An event with no data line is not dispatched (the format's rule); its event name is reset.
    if (this.hasFields && this.data.length > 0) {
      this.handlers.onEvent({ event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) });
    }
    this.data = [];
    this.event = '';
    this.id = undefined;
    this.hasFields = false;
  }
}

export type SseResponse =
  | { kind: 'stream'; status: number; response: IncomingMessage }
  | { kind: 'http'; status: number; body: string; contentType: string };

/**
 * GET of a server-sent event stream over http or https. Resolves with the open stream when the
 * server answers 200 text/event-stream, otherwise with the status and body read to its end
 * (an ordinary JSON error, a 204, a 404 from a server without the route).
 */
export function openSse(url: string, headers: Record<string, string>, signal?: AbortSignal): Promise<SseResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(target, { method: 'GET', headers: { accept: 'text/event-stream', 'cache-control': 'no-cache', ...headers }, signal }, (res) => {
      const status = res.statusCode ?? 0;
      const contentType = String(res.headers['content-type'] ?? '');
      if (status === 200 && contentType.startsWith('text/event-stream')) {
        resolve({ kind: 'stream', status, response: res });
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ kind: 'http', status, body, contentType }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Reads an open stream, calling back per event, until the server closes it (resolves) or the
 * connection breaks (rejects).
 */
export function readSse(response: IncomingMessage, handlers: SseParserHandlers): Promise<void> {
  return new Promise((resolve, reject) => {
    const parser = new SseParser(handlers);
    let failed = false;
    response.on('data', (chunk: Buffer) => {
      try {
        parser.feed(chunk);
      } catch (err) {
        failed = true;
        response.destroy();
        reject(err);
      }
    });
    response.on('end', () => resolve());
    response.on('error', (err) => {
      failed = true;
      reject(err);
    });
    response.on('close', () => {
      if (!failed && !response.complete) reject(new Error('the event stream was cut off'));
      else resolve();
    });
  });
}

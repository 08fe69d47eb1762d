import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ChatCompletionRequest,
  planRehearsalReply,
  RATE_LIMIT_ERROR,
  RehearsalErrorReply,
  rehearsalPromptKey,
  RehearsalReply,
  RehearsalToolCall,
  RehearsalUsage,
  rehearsalUsage,
} from './rehearsal-script';
import { errorMessage } from '@app/shared';

export const REHEARSAL_PROVIDER_ID = 'rehearsal';
export const REHEARSAL_MODEL_ID = 'scripted';
/** More models of the same provider, e.g. to fall back to when the default one is out of quota. */
export const REHEARSAL_FALLBACK_MODEL_ID = 'fallback';
export const REHEARSAL_ALT_MODEL_ID = 'alt';
export const REHEARSAL_MODEL_IDS = [REHEARSAL_MODEL_ID, REHEARSAL_FALLBACK_MODEL_ID, REHEARSAL_ALT_MODEL_ID] as const;
/** Path where test processes that do not own the provider can read what it received. */
export const REHEARSAL_REQUESTS_PATH = '/__rehearsal/requests';
/** Path of the provider's counters (RehearsalProviderStats). */
export const REHEARSAL_STATS_PATH = '/__rehearsal/stats';

export interface RehearsalProviderOptions {
  /** A chat request arriving while this many are in flight is answered 429 (a provider's capacity). */
  maxConcurrentRequests?: number;
  /** The `retry-after` of those 429s; default 1. */
  rateLimitRetryAfterSeconds?: number;
}

export interface RehearsalProviderStats {
  /** Chat requests received. */
  requests: number;
  /** Chat requests answered 429 (capacity, [[rate-limit N]], [[quota MODEL]]). */
  rateLimited: number;
  /** Most chat requests in flight at once (received, answer not yet ended or closed; 429s of the cap not counted). */
  maxInFlight: number;
}

const MAX_RECORDED_REQUESTS = 200;
/** Prompts remembered for [[rate-limit N]]: the oldest are forgotten past this. */
const MAX_REMEMBERED_PROMPTS = 5_000;
const SLOW_TICK_MS = 250;
const MAX_BODY_BYTES = 20 * 1024 * 1024;

/**
 * An offline, deterministic model provider speaking the OpenAI chat-completions protocol
 * (streaming, tool calls, usage) the way OpenCode calls it. Its replies are scripted by
 * markers in the prompt (see rehearsal-script.ts): rehearsal runs and tests need no real model.
 */
export class RehearsalProvider {
  private server?: Server;
  private url?: string;
  private readonly recorded: ChatCompletionRequest[] = [];
  private requestCount = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly seenPrompts = new Set<string>();
  private inFlight = 0;
  private counters: RehearsalProviderStats = { requests: 0, rateLimited: 0, maxInFlight: 0 };

  constructor(private readonly options: RehearsalProviderOptions = {}) {}

  /** Starts on 127.0.0.1 and a free port (or the given one); baseUrl ends with /v1. */
  async start(port = 0): Promise<{ baseUrl: string }> {
    if (this.url) return { baseUrl: this.url };
    const server = createServer((req, res) => void this.route(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    return { baseUrl: this.url };
  }

  get baseUrl(): string {
    if (!this.url) throw new Error('RehearsalProvider is not started');
    return this.url;
  }

  /** The parsed bodies of the last requests received, oldest first. */
  requests(): ChatCompletionRequest[] {
    return [...this.recorded];
  }

  stats(): RehearsalProviderStats {
    return { ...this.counters };
  }

  resetStats(): void {
    this.counters = { requests: 0, rateLimited: 0, maxInFlight: this.inFlight };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.url = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method === 'POST' && /\/chat\/completions$/.test(path)) return await this.chatCompletion(req, res);
      if (req.method === 'GET' && /\/models$/.test(path)) {
        const data = REHEARSAL_MODEL_IDS.map((id) => ({ id, object: 'model', owned_by: REHEARSAL_PROVIDER_ID }));
        return sendJson(res, 200, { object: 'list', data });
      }
      if (req.method === 'GET' && path === REHEARSAL_REQUESTS_PATH) return sendJson(res, 200, this.requests());
      if (req.method === 'GET' && path === REHEARSAL_STATS_PATH) return sendJson(res, 200, this.stats());
      sendError(res, 404, `no route ${req.method} ${path}`);
    } catch (err) {
      if (!res.headersSent) sendError(res, 400, errorMessage(err));
      else res.destroy();
    }
  }

  private async chatCompletion(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    if (this.options.maxConcurrentRequests !== undefined && this.inFlight >= this.options.maxConcurrentRequests) {
      await readBody(req);
      return this.sendError(res, { kind: 'error', status: 429, ...RATE_LIMIT_ERROR, retryAfterSeconds: this.options.rateLimitRetryAfterSeconds ?? 1 });
    }
    // In flight until the answer ended or the client went away (refused requests are not counted).
    this.inFlight++;
    this.counters.maxInFlight = Math.max(this.counters.maxInFlight, this.inFlight);
    res.once('close', () => this.inFlight--);
    const body = JSON.parse(await readBody(req)) as ChatCompletionRequest;
    this.recorded.push(body);
    if (this.recorded.length > MAX_RECORDED_REQUESTS) this.recorded.shift();
    const requestNumber = ++this.requestCount;
    const reply = planRehearsalReply(body, `call_${requestNumber}`, { seenBefore: this.seen(rehearsalPromptKey(body)) });
    if (reply.kind === 'error') return this.sendError(res, reply);
    const usage = rehearsalUsage(body, completionText(reply));
    const id = `chatcmpl-rehearsal-${requestNumber}`;
    const model = body.model ?? REHEARSAL_MODEL_ID;
    if (body.stream === false) return sendJson(res, 200, completionObject(id, model, reply, usage));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const stream = new ChunkWriter(res, id, model);
    if (reply.kind === 'tool-calls') {
      streamToolCalls(stream, reply.calls, usage);
      return;
    }
    if (reply.stallSeconds) return this.streamAfterStall(stream, res, reply.text, reply.stallSeconds, usage);
    if (!reply.slowSeconds) {
      stream.delta({ role: 'assistant', content: '' });
      for (const piece of splitInTwo(reply.text)) stream.delta({ content: piece });
      stream.finish('stop', usage);
      return;
    }
    this.streamSlowly(stream, res, reply.text, reply.slowSeconds, usage);
  }

  private sendError(res: ServerResponse, reply: RehearsalErrorReply): void {
    if (reply.status === 429) this.counters.rateLimited++;
    const type = reply.type ?? (reply.status >= 500 ? 'server_error' : 'invalid_request_error');
    const headers: Record<string, string> = reply.retryAfterSeconds !== undefined ? { 'retry-after': String(reply.retryAfterSeconds) } : {};
    sendJson(res, reply.status, { error: { message: reply.message, type, code: reply.code ?? type } }, headers);
  }

  /** Whether a request of this prompt came before (remembers it); bounded, the oldest forgotten first. */
  private seen(key: string | undefined): boolean {
    if (key === undefined) return false;
    if (this.seenPrompts.has(key)) return true;
    this.seenPrompts.add(key);
    if (this.seenPrompts.size > MAX_REMEMBERED_PROMPTS) this.seenPrompts.delete(this.seenPrompts.values().next().value!);
    return false;
  }

  /** The first chunk, then silence (no heartbeat) for N seconds, then the text; stops at once when the client goes away. */
  private streamAfterStall(stream: ChunkWriter, res: ServerResponse, text: string, seconds: number, usage: RehearsalUsage): void {
    stream.delta({ role: 'assistant', content: '' });
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      stream.delta({ content: text });
      stream.finish('stop', usage);
    }, seconds * 1000);
    this.timers.add(timer);
    res.once('close', () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    });
  }

  /** One chunk every 250 ms for N seconds; stops at once when the client goes away (an abort). */
  private streamSlowly(stream: ChunkWriter, res: ServerResponse, text: string, seconds: number, usage: RehearsalUsage): void {
    const ticks = Math.max(1, Math.round((seconds * 1000) / SLOW_TICK_MS));
    let tick = 0;
    stream.delta({ role: 'assistant', content: '' });
    const timer = setInterval(() => {
      if (res.destroyed || res.writableEnded) return stop();
      tick++;
      stream.delta({ content: `tick ${tick}/${ticks} ` });
      if (tick < ticks) return;
      stream.delta({ content: text });
      stream.finish('stop', usage);
      stop();
    }, SLOW_TICK_MS);
    const stop = () => {
      clearInterval(timer);
      this.timers.delete(timer);
    };
    this.timers.add(timer);
    res.once('close', stop);
  }
}

class ChunkWriter {
  constructor(
    private readonly res: ServerResponse,
    private readonly id: string,
    private readonly model: string,
  ) {}

  delta(delta: Record<string, unknown>): void {
    this.write({ delta, finish_reason: null });
  }

  /** The last chunk carries the finish reason and the usage, then [DONE]. */
  finish(reason: 'stop' | 'tool_calls', usage: RehearsalUsage): void {
    this.write({ delta: {}, finish_reason: reason }, usage);
    this.res.end('data: [DONE]\n\n');
  }

  private write(choice: { delta: Record<string, unknown>; finish_reason: string | null }, usage?: RehearsalUsage): void {
    if (this.res.destroyed || this.res.writableEnded) return;
    const chunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: 0,
      model: this.model,
      choices: [{ index: 0, ...choice }],
      ...(usage ? { usage } : {}),
    };
    this.res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }
}

function streamToolCalls(stream: ChunkWriter, calls: RehearsalToolCall[], usage: RehearsalUsage): void {
  stream.delta({ role: 'assistant', content: null });
  calls.forEach((call, index) => {
    stream.delta({ tool_calls: [{ index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } }] });
    // Arguments arrive in pieces, as with real providers.
    for (const piece of splitInTwo(call.arguments)) stream.delta({ tool_calls: [{ index, function: { arguments: piece } }] });
  });
  stream.finish('tool_calls', usage);
}

function completionObject(id: string, model: string, reply: Exclude<RehearsalReply, { kind: 'error' }>, usage: RehearsalUsage) {
  const message =
    reply.kind === 'text'
      ? { role: 'assistant', content: reply.text }
      : {
          role: 'assistant',
          content: null,
          tool_calls: reply.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
        };
  const finish_reason = reply.kind === 'text' ? 'stop' : 'tool_calls';
  return { id, object: 'chat.completion', created: 0, model, choices: [{ index: 0, message, finish_reason }], usage };
}

function completionText(reply: Exclude<RehearsalReply, { kind: 'error' }>): string {
  return reply.kind === 'text' ? reply.text : reply.calls.map((c) => c.arguments).join('');
}

function splitInTwo(text: string): string[] {
  if (text.length < 2) return [text];
  const middle = Math.ceil(text.length / 2);
  return [text.slice(0, middle), text.slice(middle)];
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: { message, type: 'invalid_request_error', code: 'invalid_request_error' } });
}

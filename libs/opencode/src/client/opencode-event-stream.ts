import type { Readable } from 'node:stream';
import { createParser, EventSourceMessage } from 'eventsource-parser';
import { OpencodeError } from './opencode-error';
import type { OpencodeEvent } from './opencode.types';

export interface SubscribeOptions {
  /** Events of one directory (`GET /event`); undefined: every directory (`GET /global/event`). */
  directory?: string;
  onEvent: (event: OpencodeEvent) => void;
  /** The stream came back after a drop: events in between are lost, reconcile. */
  onReconnect?: () => void;
  onDisconnect?: (error: OpencodeError) => void;
  /** How long subscribe() may take to connect the first time. Default 10 s. */
  connectTimeoutMs?: number;
  /** Reconnect when not even a heartbeat (OpenCode sends one every ~10 s) came for this long. Default 30 s. */
  staleAfterMs?: number;
}

export interface OpencodeEventSubscription {
  readonly connected: boolean;
  /** Number of times the stream dropped and came back. */
  readonly reconnects: number;
  close(): void;
}

/** Opens the raw SSE body; the client owns URLs and auth. */
export type OpenEventStream = (directory: string | undefined, signal: AbortSignal) => Promise<Readable>;

const RECONNECT_DELAYS_MS = [100, 250, 500, 1000, 2000];
/** After the HTTP answer, how long to wait for `server.connected` before calling the stream ready anyway. */
const READY_FALLBACK_MS = 1500;

/**
 * A server-sent event subscription that reconnects by itself. OpenCode replays nothing,
 * so a consumer must subscribe before it acts and reconcile after each reconnect.
 */
export class OpencodeEventStream implements OpencodeEventSubscription {
  private closed = false;
  private isConnected = false;
  private reconnectCount = 0;
  private everConnected = false;
  private connection?: AbortController;
  private staleTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private readyFallbackTimer?: NodeJS.Timeout;
  private awaitingReady = false;
  private resolveReady?: () => void;
  private rejectReady?: (error: OpencodeError) => void;

  private constructor(
    private readonly open: OpenEventStream,
    private options: SubscribeOptions,
  ) {}

  /** Resolves once the first connection is live; rejects (and closes) after connectTimeoutMs. */
  static async subscribe(open: OpenEventStream, options: SubscribeOptions): Promise<OpencodeEventStream> {
    const stream = new OpencodeEventStream(open, options);
    const timeoutMs = options.connectTimeoutMs ?? 10_000;
    let lastError: OpencodeError | undefined;
    const ready = new Promise<void>((resolve, reject) => {
      stream.resolveReady = resolve;
      stream.rejectReady = reject;
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        stream.close();
        const reason = lastError ? lastError.message : 'no answer';
        reject(new OpencodeError(`event stream: could not connect within ${timeoutMs} ms (${reason})`, 'UNREACHABLE', lastError?.status));
      }, timeoutMs);
    });
    stream.options = { ...options, onDisconnect: (e) => ((lastError = e), options.onDisconnect?.(e)) };
    stream.connect();
    try {
      await Promise.race([ready, timedOut]);
      return stream;
    } finally {
      clearTimeout(timer);
    }
  }

  get connected(): boolean {
    return this.isConnected;
  }

  get reconnects(): number {
    return this.reconnectCount;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.isConnected = false;
    clearTimeout(this.staleTimer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.readyFallbackTimer);
    this.connection?.abort();
  }

  private connect(attempt = 0): void {
    if (this.closed) return;
    const controller = new AbortController();
    this.connection = controller;
    // A server that is still starting may accept the connection and never answer: give each
    // attempt a deadline for its headers, so the stream retries rather than waits for ever.
    const headersDeadline = setTimeout(() => controller.abort(), this.options.connectTimeoutMs ?? 10_000);
    this.open(this.options.directory, controller.signal).then(
      (body) => {
        clearTimeout(headersDeadline);
        this.attach(body, controller);
      },
      (err: unknown) => {
        clearTimeout(headersDeadline);
        this.dropped(controller, OpencodeError.from(err, 'event stream'), attempt);
      },
    );
  }

  private attach(body: Readable, controller: AbortController): void {
    if (this.closed || controller.signal.aborted) {
      body.destroy();
      return;
    }
    this.isConnected = true;
    this.awaitingReady = true;
    // Older or newer servers may not send server.connected first: do not wait for it forever.
    this.readyFallbackTimer = setTimeout(() => this.becameReady(), READY_FALLBACK_MS);
    const parser = createParser({ onEvent: (message) => this.handle(message) });
    this.armStaleTimer(controller);
    body.setEncoding('utf8');
    body.on('data', (chunk: string) => {
      this.armStaleTimer(controller);
      parser.feed(chunk);
    });
    const onEnd = (err?: Error) =>
      this.dropped(controller, OpencodeError.from(err ?? new Error('stream ended'), 'event stream'), 0);
    body.once('end', () => onEnd());
    body.once('error', onEnd);
    body.once('close', () => onEnd());
  }

  private handle(message: EventSourceMessage): void {
    const event = parseEvent(message.data);
    if (!event) return;
    this.becameReady();
    if (event.type === 'server.connected' || event.type === 'server.heartbeat') return;
    try {
      this.options.onEvent(event);
    } catch {
      // A consumer's bug must not kill the stream for everyone else.
    }
  }

  private becameReady(): void {
    if (!this.awaitingReady) return;
    this.awaitingReady = false;
    clearTimeout(this.readyFallbackTimer);
    if (!this.everConnected) {
      this.everConnected = true;
      this.resolveReady?.();
      return;
    }
    this.reconnectCount++;
    this.options.onReconnect?.();
  }

  private armStaleTimer(controller: AbortController): void {
    clearTimeout(this.staleTimer);
    const staleAfterMs = this.options.staleAfterMs ?? 30_000;
    this.staleTimer = setTimeout(() => controller.abort(), staleAfterMs);
  }

  private dropped(controller: AbortController, error: OpencodeError, attempt: number): void {
    // Each connection reports its end once; later callbacks of an old connection are ignored.
    if (this.connection !== controller || this.closed) return;
    this.connection = undefined;
    controller.abort();
    this.isConnected = false;
    this.awaitingReady = false;
    clearTimeout(this.staleTimer);
    clearTimeout(this.readyFallbackTimer);
    this.options.onDisconnect?.(error);
    // A refusal (wrong password, unknown route) will not heal by retrying: fail the first connect at once.
    if (!this.everConnected && error.status !== undefined && error.status >= 400 && error.status < 500) {
      this.close();
      this.rejectReady?.(error);
      return;
    }
    const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.retryTimer = setTimeout(() => this.connect(attempt + 1), delay);
  }
}

/** Parses one `data:` payload; unwraps `/global/event`'s `{directory, payload}` envelope. */
export function parseEvent(data: string): OpencodeEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const record = parsed as Record<string, unknown>;
  const payload = record.payload as Record<string, unknown> | undefined;
  const event = payload && typeof payload.type === 'string' ? payload : record;
  if (typeof event.type !== 'string') return undefined;
  return {
    type: event.type,
    properties: (event.properties as Record<string, unknown> | undefined) ?? {},
    id: typeof event.id === 'string' ? event.id : undefined,
    directory: typeof record.directory === 'string' ? record.directory : undefined,
  };
}

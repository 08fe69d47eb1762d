import type { ServerResponse } from 'node:http';

export interface SseStreamOptions {
  /** A comment line this often keeps proxies and load balancers from closing an idle stream. */
  heartbeatMs: number;
  /** A client that lets this much pile up unread is too slow: its stream is closed (it reconnects, and re-reads a snapshot). */
  maxBufferedBytes: number;
  /** Browsers' EventSource reconnects after this long when a stream ends. */
  retryMs?: number;
}

export const DEFAULT_SSE_OPTIONS: SseStreamOptions = {
  heartbeatMs: 15_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  retryMs: 3_000,
};

/**
 * One server-sent event stream on an HTTP response. Nothing is written before open() (or the
 * first event), so a request can still fail with an ordinary JSON error until then.
 */
export class SseStream {
  private opened = false;
  private ended = false;
  private nextId = 1;
  private heartbeat?: NodeJS.Timeout;
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly options: SseStreamOptions = DEFAULT_SSE_OPTIONS,
  ) {
    res.on('close', () => this.closed());
    // The client may be gone already (its 'close' came before this stream existed).
    if (res.destroyed || !res.socket || res.socket.destroyed) this.closed();
  }

  /** False once the client went away or the stream was ended. */
  get isOpen(): boolean {
    return !this.ended;
  }

  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  open(): void {
    if (this.opened || this.ended) return;
    this.opened = true;
    this.res.socket?.setNoDelay(true);
    this.res.socket?.setKeepAlive(true);
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx and similar proxies buffer responses unless told not to.
      'X-Accel-Buffering': 'no',
    });
    this.write(this.options.retryMs ? `retry: ${this.options.retryMs}\n\n` : ': open\n\n');
    this.heartbeat = setInterval(() => this.comment('heartbeat'), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  /** Sends one event; `data` is sent as one line of JSON. The id is a counter of this stream unless given. */
  send(event: string, data: unknown, id: string = String(this.nextId++)): void {
    this.open();
    this.write(`id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.open();
    this.write(`: ${text.replace(/[\r\n]+/g, ' ')}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.res.end();
    this.closed();
  }

  private write(chunk: string): void {
    if (this.ended) return;
    if (this.res.destroyed) return this.closed();
    this.res.write(chunk);
    if (this.res.writableLength > this.options.maxBufferedBytes) this.res.destroy();
  }

  private closed(): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.heartbeat);
    for (const listener of this.closeListeners.splice(0)) {
      try {
        listener();
      } catch {
        // Cleanup of one listener must not stop the others.
      }
    }
  }
}

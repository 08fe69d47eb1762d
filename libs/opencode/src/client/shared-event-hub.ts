import { OpencodeEventStream, OpenEventStream, OpencodeEventSubscription, SubscribeOptions } from './opencode-event-stream';
import type { OpencodeError } from './opencode-error';
import type { OpencodeEvent } from './opencode.types';

/**
 * One `/global/event` stream shared by every subscriber of a client, instead of one stream per
 * turn. OpenCode's CPU is the bottleneck of a fleet, and every stream it serves costs it work:
 * measured with 25 concurrent turns, per-turn streams cost it about a third more CPU per
 * session than one shared stream (bench:lifecycle). Subscribers get the events of every
 * directory and filter by session id, which the turn follower does anyway.
 * The stream opens with the first subscriber and closes after the last one leaves.
 */
export class SharedEventHub {
  private readonly listeners = new Set<SubscribeOptions>();
  private stream?: Promise<OpencodeEventStream>;

  constructor(private readonly open: OpenEventStream) {}

  async subscribe(options: SubscribeOptions): Promise<OpencodeEventSubscription> {
    this.listeners.add(options);
    const connecting = (this.stream ??= this.connect(options.connectTimeoutMs));
    let stream: OpencodeEventStream;
    try {
      stream = await connecting;
    } catch (err) {
      this.leave(options);
      throw err;
    }
    let closed = false;
    return {
      get connected() {
        return !closed && stream.connected;
      },
      get reconnects() {
        return stream.reconnects;
      },
      close: () => {
        if (closed) return;
        closed = true;
        this.leave(options);
      },
    };
  }

  private reconnectCount = 0;

  /** Times the shared stream had to reconnect (the server dropped it), over the hub's life. */
  get reconnects(): number {
    return this.reconnectCount;
  }

  private connect(connectTimeoutMs?: number): Promise<OpencodeEventStream> {
    const attempt = OpencodeEventStream.subscribe(this.open, {
      directory: undefined,
      connectTimeoutMs,
      onEvent: (event: OpencodeEvent) => this.each((l) => l.onEvent(event)),
      onReconnect: () => {
        this.reconnectCount++;
        this.each((l) => l.onReconnect?.());
      },
      onDisconnect: (error: OpencodeError) => this.each((l) => l.onDisconnect?.(error)),
    });
    // A failed connect is not cached: the next subscriber tries again.
    attempt.catch(() => {
      if (this.stream === attempt) this.stream = undefined;
    });
    return attempt;
  }

  private leave(options: SubscribeOptions): void {
    this.listeners.delete(options);
    if (this.listeners.size > 0 || !this.stream) return;
    const stream = this.stream;
    this.stream = undefined;
    void stream.then((s) => s.close(), () => undefined);
  }

  private each(call: (listener: SubscribeOptions) => void): void {
    for (const listener of [...this.listeners]) {
      try {
        call(listener);
      } catch {
        // One subscriber's bug must not starve the others.
      }
    }
  }
}

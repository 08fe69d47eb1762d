import type { ServerResponse } from 'node:http';
import { BeforeApplicationShutdown, HttpStatus, Inject, Injectable, OnModuleInit, Optional, ServiceUnavailableException } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Metrics } from '@app/observability';
import { ProcessShutdown } from '@app/platform';
import type { Principal } from '@app/shared';
import {
  SESSION_EVENTS,
  SessionEventFilter,
  SessionEventsPort,
  SessionEventsUnavailableError,
} from '../../application/ports/session-events.port';
import { EventStreamLimit, EventStreamRefusal, EventStreamSlot, EventStreamSlots } from './event-stream-slots';
import { SessionFeed, SessionSnapshot } from './session-feed';
import { DEFAULT_SSE_OPTIONS, SseStream, SseStreamOptions } from './sse-stream';

/**
 * The SSE id of a session stream's last event. A browser's EventSource reconnects when a stream
 * ends and sends the last id it saw: that id means "you had everything", answered with 204,
 * which tells EventSource to stop.
 */
const END_EVENT_ID = 'end';

/** The error code of a stream refused for a limit (503, Retry-After). */
export const TOO_MANY_STREAMS = 'TOO_MANY_STREAMS';
/** Seconds a client refused for too many streams is told to wait (Retry-After): slots free as other clients leave. */
export const TOO_MANY_STREAMS_RETRY_AFTER_SECONDS = 5;
/** The slot key of every caller when API_KEY is unset (auth off, loopback only). */
const ANONYMOUS_CALLER = 'anonymous';
const LIMIT_VARIABLE: Record<EventStreamLimit, string> = { process: 'MAX_EVENT_STREAMS', key: 'MAX_EVENT_STREAMS_PER_KEY' };

/**
 * Server-sent event streams of session events: one session (a SessionFeed), or the whole fleet.
 * Each takes a slot (MAX_EVENT_STREAMS per process, MAX_EVENT_STREAMS_PER_KEY per API key) before
 * anything is written, and gives it back when it closes, whoever closes it; above a limit the
 * request is refused with 503 TOO_MANY_STREAMS and Retry-After.
 */
@Injectable()
export class SessionSseStreams implements OnModuleInit, BeforeApplicationShutdown {
  /** Open streams and the slot each holds. */
  private readonly open = new Map<SseStream, EventStreamSlot>();
  private readonly options: SseStreamOptions = DEFAULT_SSE_OPTIONS;
  private readonly slots: EventStreamSlots;

  constructor(
    @Inject(SESSION_EVENTS) private readonly events: SessionEventsPort,
    config: AppConfig,
    @Optional() private readonly metrics?: Metrics,
    /** A planned stop ends every stream at once (the clients reconnect elsewhere), so that none holds the HTTP drain. */
    @Optional() private readonly shutdown?: ProcessShutdown,
  ) {
    this.slots = new EventStreamSlots(config.eventStreams, (open) => this.metrics?.eventStreams.set(open));
  }

  /** The gauge at 0 and each refusal counter at 0, so that the first of each shows as an increase. */
  onModuleInit(): void {
    this.shutdown?.onDrain('event streams', async () => this.beforeApplicationShutdown());
    this.metrics?.eventStreams.set(this.slots.open);
    for (const limit of Object.keys(LIMIT_VARIABLE)) this.metrics?.eventStreamsRefused.inc({ limit }, 0);
  }

  /** Streams open on this process now. */
  get openStreams(): number {
    return this.slots.open;
  }

  /**
   * Streams one session from its current state to its final status. Throws before anything is
   * written when the snapshot cannot be read (e.g. SESSION_NOT_FOUND), so the client gets the
   * ordinary JSON error; resolves once the stream is under way.
   */
  async streamSession(
    sessionId: string,
    readSnapshot: () => Promise<SessionSnapshot>,
    res: ServerResponse,
    caller: Principal,
    lastEventId?: string,
  ): Promise<void> {
    if (lastEventId === END_EVENT_ID) {
      res.writeHead(HttpStatus.NO_CONTENT).end();
      return;
    }
    const stream = this.track(res, caller);
    if (!stream) return;
    const feed = new SessionFeed(this.events, sessionId, readSnapshot, {
      send: (event) => stream.send(event.type, event, event.type === 'end' ? END_EVENT_ID : undefined),
      end: () => stream.end(),
    });
    stream.onClose(() => feed.close());
    try {
      await feed.start();
    } catch (err) {
      this.untrack(stream);
      throw asHttpError(err);
    }
  }

  /** Streams every session's live events that match the filter, until the client leaves. */
  async streamAll(filter: SessionEventFilter, res: ServerResponse, caller: Principal): Promise<void> {
    const stream = this.track(res, caller);
    if (!stream) return;
    let unsubscribe: (() => void) | undefined;
    stream.onClose(() => unsubscribe?.());
    try {
      unsubscribe = await this.events.subscribe(filter, (event) => stream.send(event.type, event), {
        onGap: () => stream.send('gap', { type: 'gap', at: new Date().toISOString(), data: { reason: 'events may have been lost while the event bus reconnected; re-read the sessions you show' } }),
      });
    } catch (err) {
      this.untrack(stream);
      throw asHttpError(err);
    }
    if (!stream.isOpen) return unsubscribe();
    // Headers go out once the subscription is live: a client that saw them misses nothing after.
    stream.comment('subscribed');
  }

  /** Open streams would hold the HTTP server open on shutdown. */
  beforeApplicationShutdown(): void {
    for (const stream of [...this.open.keys()]) stream.end();
  }

  /**
   * A stream on `res` holding a slot of `caller` until it closes; above a limit, undefined, and
   * `res` answered with 503 TOO_MANY_STREAMS.
   */
  private track(res: ServerResponse, caller: Principal): SseStream | undefined {
    const slot = this.slots.take(caller.keyId ?? ANONYMOUS_CALLER);
    if (!slot.granted) {
      this.refuse(res, slot, caller);
      return undefined;
    }
    const stream = new SseStream(res, this.options);
    this.open.set(stream, slot);
    // The client left, the server ended the stream, its response failed: the slot is free again.
    stream.onClose(() => this.untrack(stream));
    return stream;
  }

  /** Also for a stream whose start failed (the error filter is still to write its JSON error). */
  private untrack(stream: SseStream): void {
    this.open.get(stream)?.release();
    this.open.delete(stream);
  }

  /**
   * 503 TOO_MANY_STREAMS, in the API's error body, written here rather than thrown: a refusal is
   * the limit working, not a server fault for the error log (the filter logs every 5xx it writes),
   * and under a flood of clients it would be a flood of log lines. The counter tells instead.
   */
  private refuse(res: ServerResponse, refusal: EventStreamRefusal, caller: Principal): void {
    this.metrics?.eventStreamsRefused.inc({ limit: refusal.limit });
    const variable = LIMIT_VARIABLE[refusal.limit];
    const wait = TOO_MANY_STREAMS_RETRY_AFTER_SECONDS;
    const message =
      refusal.limit === 'process'
        ? `This API process has ${refusal.max} event streams open, its limit (${variable}); retry in ${wait} s`
        : `The key "${caller.name}" has ${refusal.max} event streams open on this API process, its limit (${variable}); close one or retry in ${wait} s`;
    const body = JSON.stringify({
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      code: TOO_MANY_STREAMS,
      message,
      details: { limit: variable, max: refusal.max, retryable: true },
    });
    res
      .writeHead(HttpStatus.SERVICE_UNAVAILABLE, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Retry-After': String(wait),
      })
      .end(body);
  }
}

/** Redis unreachable is a 503 the client may retry; anything else (SESSION_NOT_FOUND, ...) goes to the error filter as it is. */
function asHttpError(err: unknown): unknown {
  if (!(err instanceof SessionEventsUnavailableError)) return err;
  return new ServiceUnavailableException({ code: 'EVENTS_UNAVAILABLE', message: err.message, details: { retryable: true } });
}

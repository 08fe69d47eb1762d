import type { ServerResponse } from 'node:http';
import { BeforeApplicationShutdown, HttpStatus, Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import {
  SESSION_EVENTS,
  SessionEventFilter,
  SessionEventsPort,
  SessionEventsUnavailableError,
} from '../../application/ports/session-events.port';
import { SessionFeed, SessionSnapshot } from './session-feed';
import { DEFAULT_SSE_OPTIONS, SseStream, SseStreamOptions } from './sse-stream';

/**
 * The SSE id of a session stream's last event. A browser's EventSource reconnects when a stream
 * ends and sends the last id it saw: that id means "you had everything", answered with 204,
 * which tells EventSource to stop.
 */
const END_EVENT_ID = 'end';

/** Server-sent event streams of session events: one session (a SessionFeed), or the whole fleet. */
@Injectable()
export class SessionSseStreams implements BeforeApplicationShutdown {
  private readonly open = new Set<SseStream>();
  private readonly options: SseStreamOptions = DEFAULT_SSE_OPTIONS;

  constructor(@Inject(SESSION_EVENTS) private readonly events: SessionEventsPort) {}

  /**
   * Streams one session from its current state to its final status. Throws before anything is
   * written when the snapshot cannot be read (e.g. SESSION_NOT_FOUND), so the client gets the
   * ordinary JSON error; resolves once the stream is under way.
   */
  async streamSession(
    sessionId: string,
    readSnapshot: () => Promise<SessionSnapshot>,
    res: ServerResponse,
    lastEventId?: string,
  ): Promise<void> {
    if (lastEventId === END_EVENT_ID) {
      res.writeHead(HttpStatus.NO_CONTENT).end();
      return;
    }
    const stream = this.track(res);
    const feed = new SessionFeed(this.events, sessionId, readSnapshot, {
      send: (event) => stream.send(event.type, event, event.type === 'end' ? END_EVENT_ID : undefined),
      end: () => stream.end(),
    });
    stream.onClose(() => feed.close());
    try {
      await feed.start();
    } catch (err) {
      this.open.delete(stream);
      throw asHttpError(err);
    }
  }

  /** Streams every session's live events that match the filter, until the client leaves. */
  async streamAll(filter: SessionEventFilter, res: ServerResponse): Promise<void> {
    const stream = this.track(res);
    let unsubscribe: (() => void) | undefined;
    stream.onClose(() => unsubscribe?.());
    try {
      unsubscribe = await this.events.subscribe(filter, (event) => stream.send(event.type, event), {
        onGap: () => stream.send('gap', { type: 'gap', at: new Date().toISOString(), data: { reason: 'events may have been lost while the event bus reconnected; re-read the sessions you show' } }),
      });
    } catch (err) {
      this.open.delete(stream);
      throw asHttpError(err);
    }
    if (!stream.isOpen) return unsubscribe();
    // Headers go out once the subscription is live: a client that saw them misses nothing after.
    stream.comment('subscribed');
  }

  /** Open streams would hold the HTTP server open on shutdown. */
  beforeApplicationShutdown(): void {
    for (const stream of this.open) stream.end();
    this.open.clear();
  }

  private track(res: ServerResponse): SseStream {
    const stream = new SseStream(res, this.options);
    this.open.add(stream);
    stream.onClose(() => this.open.delete(stream));
    return stream;
  }
}

/** Redis unreachable is a 503 the client may retry; anything else (SESSION_NOT_FOUND, ...) goes to the error filter as it is. */
function asHttpError(err: unknown): unknown {
  if (!(err instanceof SessionEventsUnavailableError)) return err;
  return new ServiceUnavailableException({ code: 'EVENTS_UNAVAILABLE', message: err.message, details: { retryable: true } });
}

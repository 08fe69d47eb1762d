import {
  SessionEventsPort,
  SessionLiveEvent,
} from '../../application/ports/session-events.port';
import { isFinal, SessionStatus } from '../../domain/session-status';

/** The session as a stream starts from: `body` is what GET /api/v1/sessions/:id returns. */
export interface SessionSnapshot {
  version: number;
  status: SessionStatus;
  attempt: number;
  body: unknown;
}

export interface SessionSnapshotEvent {
  sessionId: string;
  type: 'snapshot';
  seq: number;
  at: string;
  data: unknown;
}

export interface SessionEndEvent {
  sessionId: string;
  type: 'end';
  at: string;
  data: { status: SessionStatus };
}

/** What one session's stream sends, in order. */
export type SessionFeedEvent = SessionSnapshotEvent | SessionLiveEvent | SessionEndEvent;

export interface SessionFeedSink {
  send(event: SessionFeedEvent): void;
  /** The session reached a final status and that was sent: the stream is over. */
  end(): void;
}

/**
 * One client's view of one session: the current state, then what happens next, with nothing
 * missed and nothing twice in between.
 *
 * It subscribes FIRST and holds the live events while it reads the snapshot; then it sends the
 * snapshot and the held events that are newer. A transition is newer when its `seq` (the
 * session's version after that write) is above the version the snapshot showed; every later
 * transition must be newer than the last one sent, so a transition the snapshot already shows,
 * or one delivered twice, is dropped. Progress carries no version: held progress is sent
 * unless it belongs to an earlier attempt than the one the client has seen. The feed ends after
 * the transition to a final status (or at once when the snapshot is final).
 *
 * When the subscription may have lost events (Redis reconnected), it reads and sends a fresh
 * snapshot the same way.
 */
export class SessionFeed {
  /** Non-null while a snapshot is being read: live events wait here. */
  private held: SessionLiveEvent[] | null = [];
  private version = 0;
  private attempt = 0;
  private done = false;
  private unsubscribe?: () => void;

  constructor(
    private readonly events: SessionEventsPort,
    private readonly sessionId: string,
    private readonly readSnapshot: () => Promise<SessionSnapshot>,
    private readonly sink: SessionFeedSink,
  ) {}

  /** Rejects, having sent nothing, when the first snapshot cannot be read (e.g. unknown session). */
  async start(): Promise<void> {
    this.unsubscribe = await this.events.subscribe(
      { sessionIds: [this.sessionId] },
      (event) => this.receive(event),
      { onGap: () => void this.resync() },
    );
    if (this.done) return this.close();
    try {
      await this.sendSnapshot();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The client went away. */
  close(): void {
    this.done = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private async sendSnapshot(): Promise<void> {
    this.held ??= [];
    const snapshot = await this.readSnapshot();
    if (this.done) return;
    const held = this.held;
    this.held = null;
    this.version = snapshot.version;
    this.attempt = snapshot.attempt;
    this.sink.send({ sessionId: this.sessionId, type: 'snapshot', seq: snapshot.version, at: new Date().toISOString(), data: snapshot.body });
    if (isFinal(snapshot.status)) return this.finish(snapshot.status);
    for (const event of held) this.deliver(event);
  }

  private receive(event: SessionLiveEvent): void {
    if (this.done) return;
    if (this.held) this.held.push(event);
    else this.deliver(event);
  }

  private deliver(event: SessionLiveEvent): void {
    if (this.done) return;
    if (event.type === 'transition') {
      if (event.seq <= this.version) return;
      this.version = event.seq;
      this.attempt = Math.max(this.attempt, event.data.attempt);
      this.sink.send(event);
      if (isFinal(event.data.to)) this.finish(event.data.to);
      return;
    }
    if (event.data.attempt < this.attempt) return;
    this.sink.send(event);
  }

  private finish(status: SessionStatus): void {
    this.sink.send({ sessionId: this.sessionId, type: 'end', at: new Date().toISOString(), data: { status } });
    this.close();
    this.sink.end();
  }

  private async resync(): Promise<void> {
    if (this.done || this.held) return; // a snapshot is being read already: it will do
    try {
      await this.sendSnapshot();
    } catch {
      // Deleted meanwhile, or the database does not answer: the client reconnects and retries.
      this.close();
      this.sink.end();
    }
  }
}

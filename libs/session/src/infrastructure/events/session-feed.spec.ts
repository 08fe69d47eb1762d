import { InMemorySessionEvents } from '@app/session/testing';
import { progressEvent, SessionLiveEvent, transitionEvent } from '../../application/ports/session-events.port';
import { Session } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';
import { SessionFeed, SessionFeedEvent, SessionSnapshot } from './session-feed';

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A session moved through its life by hand, publishing what the real processes would. */
class Scenario {
  readonly events = new InMemorySessionEvents();
  readonly session = Session.create({ title: 't', prompt: 'p', workspace: '/w', opencodeAgent: 'build', timeoutSeconds: 60 });
  private version = 1;

  get id(): string {
    return this.session.id;
  }

  /** The row as the database has it now. */
  snapshot(): SessionSnapshot {
    const s = this.session.snapshot();
    return { version: this.version, status: s.status, attempt: s.attempt, body: { ...s, version: this.version } };
  }

  /** Commits a change: the version goes up, its transitions are published (as the repository does) unless lost. */
  commit(change: (s: Session) => void, { lost = false } = {}): SessionLiveEvent[] {
    this.session.pullEvents();
    change(this.session);
    this.session.persisted(++this.version);
    const events = this.session.pullEvents().map(transitionEvent);
    if (!lost) for (const e of events) void this.events.publish(e);
    return events;
  }

  progress(delta: string, attempt = this.session.attempt): void {
    void this.events.publish(progressEvent(this.id, attempt, { kind: 'text', detail: { messageId: 'm', partId: 'p', delta } }));
  }
}

function feedOf(scenario: Scenario, read: () => Promise<SessionSnapshot> = async () => scenario.snapshot()) {
  const sent: SessionFeedEvent[] = [];
  let ended = false;
  const feed = new SessionFeed(scenario.events, scenario.id, read, {
    send: (e) => sent.push(e),
    end: () => (ended = true),
  });
  const labels = () =>
    sent.map((e) =>
      e.type === 'snapshot'
        ? `snapshot(${(e.data as { status: string }).status}@${e.seq})`
        : e.type === 'transition'
          ? `${e.data.to}@${e.seq}`
          : e.type === 'text'
            ? `text(${e.data.delta})`
            : e.type,
    );
  return { feed, sent, labels, isEnded: () => ended };
}

describe('SessionFeed', () => {
  it('sends the snapshot, then live events in order, then the end after the final transition', async () => {
    const s = new Scenario();
    const { feed, labels, isEnded } = feedOf(s);
    await feed.start();
    s.commit((x) => x.queue());
    s.commit((x) => x.markRunning());
    s.commit((x) => x.attachTurn('ses_1', 'msg_1'));
    s.progress('Hel');
    s.progress('lo');
    s.commit((x) => x.complete({ summary: 'Hello', filesChanged: [] }, { inputTokens: 1, outputTokens: 1, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 }));
    s.progress('late'); // nothing after the end
    await tick();

    expect(labels()).toEqual(['snapshot(PENDING@1)', 'QUEUED@2', 'RUNNING@3', 'text(Hel)', 'text(lo)', 'COMPLETED@5', 'end']);
    expect(isEnded()).toBe(true);
  });

  it('misses nothing and repeats nothing for a client that joins while things happen', async () => {
    const s = new Scenario();
    s.commit((x) => x.queue());
    let release!: () => void;
    const reading = new Promise<void>((resolve) => (release = resolve));
    let snapshotAtRead!: SessionSnapshot;
    const { feed, labels } = feedOf(s, async () => {
      // While the client reads the snapshot, the worker claims the session and starts talking.
      s.commit((x) => x.markRunning());
      s.progress('a');
      snapshotAtRead = s.snapshot(); // the read sees RUNNING@3 ...
      s.progress('b'); // ... and this comes after it
      await reading;
      return snapshotAtRead;
    });
    const started = feed.start();
    await tick();
    release();
    await started;
    s.progress('c');
    await tick();

    // RUNNING@3 is in the snapshot: not sent again. Progress around the read is kept (it is not in the snapshot).
    expect(labels()).toEqual(['snapshot(RUNNING@3)', 'text(a)', 'text(b)', 'text(c)']);
  });

  it('sends newer transitions that arrived while the snapshot was read, after it', async () => {
    const s = new Scenario();
    const staleRead = s.snapshot(); // PENDING@1, read before the start below commits
    const { feed, labels } = feedOf(s, async () => {
      s.commit((x) => x.queue());
      await tick();
      return staleRead;
    });
    await feed.start();
    await tick();
    expect(labels()).toEqual(['snapshot(PENDING@1)', 'QUEUED@2']);
  });

  it('ends at once after the snapshot of a finished session', async () => {
    const s = new Scenario();
    s.commit((x) => x.cancel('not needed'));
    const { feed, labels, isEnded } = feedOf(s);
    await feed.start();
    s.progress('stale');
    await tick();
    expect(labels()).toEqual(['snapshot(CANCELLED@2)', 'end']);
    expect(isEnded()).toBe(true);
  });

  it('drops a transition delivered twice or out of date, and progress of an earlier attempt', async () => {
    const s = new Scenario();
    s.commit((x) => x.queue());
    const [running] = s.commit((x) => x.markRunning());
    const { feed, labels } = feedOf(s);
    await feed.start();
    void s.events.publish(running); // a duplicate
    s.commit((x) => x.fail({ code: 'PROVIDER_ERROR', message: 'boom' }, null));
    await tick();
    expect(labels()).toEqual(['snapshot(RUNNING@3)', 'FAILED@4', 'end']);

    // A new client on the retried session: the first attempt's late progress is not its concern.
    s.commit((x) => x.retry());
    const second = feedOf(s);
    await second.feed.start();
    s.progress('from attempt 1', 1);
    s.progress('from attempt 2', 2);
    await tick();
    expect(second.labels()).toEqual(['snapshot(QUEUED@5)', 'text(from attempt 2)']);
  });

  it('re-reads the snapshot after a gap in the subscription', async () => {
    const s = new Scenario();
    s.commit((x) => x.queue());
    const { feed, labels, isEnded } = feedOf(s);
    await feed.start();
    s.commit((x) => x.markRunning());
    await tick();
    s.commit((x) => x.attachTurn('ses_1', 'msg_1'));
    // Lost while Redis reconnected: the transition to COMPLETED never arrives as an event.
    s.commit((x) => x.complete({ summary: '', filesChanged: [] }, { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0 }), { lost: true });
    s.events.simulateGap();
    await tick();
    expect(labels()).toEqual(['snapshot(QUEUED@2)', 'RUNNING@3', 'snapshot(COMPLETED@5)', 'end']);
    expect(isEnded()).toBe(true);
  });

  it('sends nothing and unsubscribes when the first snapshot cannot be read', async () => {
    const s = new Scenario();
    const { feed, sent } = feedOf(s, async () => {
      throw new Error('SESSION_NOT_FOUND');
    });
    await expect(feed.start()).rejects.toThrow('SESSION_NOT_FOUND');
    s.progress('x');
    await tick();
    expect(sent).toEqual([]);
  });

  it('stops when the client goes away', async () => {
    const s = new Scenario();
    const { feed, labels } = feedOf(s);
    await feed.start();
    feed.close();
    s.commit((x) => x.queue());
    await tick();
    expect(labels()).toEqual(['snapshot(PENDING@1)']);
  });
});

describe('session event mapping', () => {
  it('maps committed transitions to events carrying the version and a summary without the prompt', () => {
    const s = Session.create({ title: 'Fix it', prompt: 'a long prompt', workspace: '/w', opencodeAgent: 'build', timeoutSeconds: 60 }, new Date('2026-01-01T00:00:00Z'));
    s.pullEvents();
    s.queue(new Date('2026-01-01T00:00:01Z'));
    const [event] = s.pullEvents(2).map(transitionEvent);
    expect(event).toEqual({
      sessionId: s.id,
      type: 'transition',
      seq: 2,
      at: '2026-01-01T00:00:01.000Z',
      data: {
        from: SessionStatus.PENDING,
        to: SessionStatus.QUEUED,
        reason: 'start requested',
        attempt: 1,
        // Exactly these fields: no prompt, no workspace, nothing the domain event adds for metrics.
        session: {
          id: s.id,
          title: 'Fix it',
          status: 'QUEUED',
          attempt: 1,
          version: 2,
          agentId: null,
          opencodeSessionId: null,
          result: null,
          usage: null,
          error: null,
          cancelRequestedAt: null,
          queuedAt: '2026-01-01T00:00:01.000Z',
          startedAt: null,
          finishedAt: null,
          updatedAt: '2026-01-01T00:00:01.000Z',
        },
      },
    });
  });

  it('maps each kind of progress to its event type, with the attempt', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const id = 's';
    expect(progressEvent(id, 2, { kind: 'text', detail: { messageId: 'm', partId: 'p', delta: 'hi' } }, at)).toEqual({
      sessionId: id, type: 'text', at: at.toISOString(), data: { attempt: 2, messageId: 'm', partId: 'p', delta: 'hi' },
    });
    expect(progressEvent(id, 1, { kind: 'tool', detail: { messageId: 'm', partId: 'p', callId: 'c', tool: 'write', status: 'completed', input: 'a.txt' } }, at).type).toBe('tool');
    expect(progressEvent(id, 1, { kind: 'files', detail: { files: ['a.txt'], latest: ['a.txt'] } }, at)).toMatchObject({ type: 'files', data: { attempt: 1, files: ['a.txt'] } });
    expect(progressEvent(id, 1, { kind: 'activity', detail: { state: 'retry', retryAttempt: 3, message: 'overloaded' } }, at).data).toEqual({
      attempt: 1,
      state: 'retry',
      retryAttempt: 3,
      message: 'overloaded',
    });
  });
});

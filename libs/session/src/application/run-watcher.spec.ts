import { InMemoryHeartbeat, InMemorySessionRepository } from '@app/session/testing';
import { Session } from '../domain/session';
import { HEARTBEAT_TTL_MS, RunWatcher, WATCH_INTERVAL_MS } from './run-watcher';

describe('RunWatcher', () => {
  let repo: InMemorySessionRepository;
  let heartbeat: InMemoryHeartbeat;
  let watcher: RunWatcher;

  // Fake intervals: the watch timer never outlives a test.
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'nextTick', 'queueMicrotask', 'performance'] }));
  afterEach(() => jest.useRealTimers());
  beforeEach(() => {
    repo = new InMemorySessionRepository();
    heartbeat = new InMemoryHeartbeat();
    watcher = new RunWatcher(repo, heartbeat);
  });

  async function stored(prepare: (s: Session) => void = () => undefined): Promise<Session> {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/w', opencodeAgent: 'build', timeoutSeconds: 60 });
    await repo.insert(s);
    prepare(s);
    await repo.update(s);
    return s;
  }

  it('aborts the turn of a running session, or gives up the place of a waiting one, on its cancel signal only', () => {
    const turn = new AbortController();
    const left: string[] = [];
    watcher.watchRun('a', turn);
    watcher.watchPlace('b', async () => void left.push('b'), 60_000);
    expect(watcher.activeSessionIds).toEqual(['a']);
    expect(watcher.waitingSessionIds).toEqual(['b']);

    watcher.onCancelRequested('someone-else');
    expect([turn.signal.aborted, left]).toEqual([false, []]);
    watcher.onCancelRequested('a');
    watcher.onCancelRequested('b');
    expect(turn.signal.reason).toBe('cancel');
    expect(left).toEqual(['b']);
    expect(watcher.waitingSessionIds).toEqual([]);
  });

  it('gives up the place of a waiting session found cancelled by the poll, without beating for it; forgets one whose run came back', async () => {
    const waiting = await stored((s) => s.queue());
    const cancelled = await stored((s) => (s.queue(), s.cancel('cancelled by user')));
    const back = await stored((s) => s.queue());
    const left: string[] = [];
    for (const s of [waiting, cancelled, back]) watcher.watchPlace(s.id, async () => void left.push(s.id), 60_000);
    watcher.unwatchPlace(back.id);

    await jest.advanceTimersByTimeAsync(WATCH_INTERVAL_MS);
    expect(left).toEqual([cancelled.id]);
    expect(watcher.waitingSessionIds).toEqual([waiting.id]);
    // A waiting session has its delayed job: recovery needs no heartbeat to leave it alone.
    expect(await heartbeat.alive([waiting.id])).toEqual(new Set());
  });

  it('forgets a waiting session once its place has lapsed', async () => {
    const waiting = await stored((s) => s.queue());
    watcher.watchPlace(waiting.id, async () => undefined, WATCH_INTERVAL_MS / 2);
    await jest.advanceTimersByTimeAsync(WATCH_INTERVAL_MS);
    expect(watcher.waitingSessionIds).toEqual([]);
  });

  it('forgets a session once unwatched', () => {
    const turn = new AbortController();
    const unwatch = watcher.watchRun('a', turn);
    unwatch();
    watcher.onCancelRequested('a');
    expect(watcher.activeSessionIds).toEqual([]);
    expect(turn.signal.aborted).toBe(false);
  });

  it('beats for what it watches, and stops the sessions whose cancel signal was lost', async () => {
    const running = await stored((s) => (s.queue(), s.markRunning()));
    const cancelled = await stored((s) => (s.queue(), s.markRunning(), s.requestCancel()));
    const turns = [new AbortController(), new AbortController()];
    watcher.watchRun(running.id, turns[0]);
    watcher.watchRun(cancelled.id, turns[1]);
    expect(await heartbeat.alive([running.id, cancelled.id])).toEqual(new Set([running.id, cancelled.id]));

    await jest.advanceTimersByTimeAsync(WATCH_INTERVAL_MS);
    expect(turns.map((t) => t.signal.aborted)).toEqual([false, true]);
    expect(heartbeat.until.get(running.id)).toBeGreaterThan(Date.now() + HEARTBEAT_TTL_MS - WATCH_INTERVAL_MS);
  });
});

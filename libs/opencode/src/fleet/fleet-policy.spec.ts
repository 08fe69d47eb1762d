import { LatencyWindow, placeRun, recycleKind, recycleReason, ServerLoad } from './fleet-policy';

const server = (id: string, over: Partial<ServerLoad> = {}): ServerLoad => ({ id, state: 'READY', sessionsRunning: 0, maxSessions: 10, latencyP50Ms: 5, ...over });

describe('placeRun', () => {
  it('picks the READY server with the largest share of free turns', () => {
    expect(placeRun([server('a', { sessionsRunning: 6 }), server('b', { sessionsRunning: 2 }), server('c', { sessionsRunning: 4 })])).toBe('b');
    // Shares, not counts: 3 of 4 free beats 5 of 10 free.
    expect(placeRun([server('a', { sessionsRunning: 5 }), server('b', { sessionsRunning: 1, maxSessions: 4 })])).toBe('b');
  });

  it('breaks ties by recent latency, then by id', () => {
    expect(placeRun([server('a', { latencyP50Ms: 40 }), server('b', { latencyP50Ms: 8 })])).toBe('b');
    expect(placeRun([server('b'), server('a')])).toBe('a');
    expect(placeRun([server('a', { latencyP50Ms: null }), server('b', { latencyP50Ms: 900 })])).toBe('b');
  });

  it('never places on a server that is not READY or is full; null when none is left', () => {
    const others = [server('s', { state: 'STARTING' }), server('d', { state: 'DRAINING' }), server('u', { state: 'UNHEALTHY' }), server('x', { state: 'STOPPED' })];
    expect(placeRun([...others, server('full', { sessionsRunning: 10 })])).toBeNull();
    expect(placeRun([...others, server('ok', { sessionsRunning: 9 })])).toBe('ok');
    expect(placeRun([])).toBeNull();
  });
});

describe('recycleReason', () => {
  const limits = { afterSessions: 100, maxRssMb: 2048, maxAgeMinutes: 60 };
  const startedAt = new Date('2026-01-01T00:00:00Z');
  const at = (minutes: number) => new Date(startedAt.getTime() + minutes * 60_000);

  it('names the first limit passed, with the setting', () => {
    expect(recycleReason({ sessionsServed: 99, rssMb: 2047, startedAt }, limits, at(59))).toBeNull();
    expect(recycleReason({ sessionsServed: 100, rssMb: 10, startedAt }, limits, at(1))).toBe('served 100 sessions (OPENCODE_RECYCLE_AFTER_SESSIONS=100)');
    expect(recycleReason({ sessionsServed: 1, rssMb: 2100.4, startedAt }, limits, at(1))).toBe('resident memory 2100 MB (OPENCODE_MAX_RSS_MB=2048)');
    expect(recycleReason({ sessionsServed: 1, rssMb: null, startedAt }, limits, at(61))).toBe('up 61 minutes (OPENCODE_MAX_AGE_MINUTES=60)');
  });

  it('ignores a limit set to 0 and an unknown RSS', () => {
    const none = { afterSessions: 0, maxRssMb: 0, maxAgeMinutes: 0 };
    expect(recycleReason({ sessionsServed: 1e6, rssMb: 1e6, startedAt }, none, at(1e6))).toBeNull();
    expect(recycleReason({ sessionsServed: 0, rssMb: null, startedAt }, limits, at(0))).toBeNull();
  });

  it('labels reasons by kind', () => {
    expect(recycleKind('served 100 sessions (OPENCODE_RECYCLE_AFTER_SESSIONS=100)')).toBe('sessions');
    expect(recycleKind('recycle: resident memory 2100 MB (OPENCODE_MAX_RSS_MB=2048)')).toBe('rss');
    expect(recycleKind('recycle: up 61 minutes (OPENCODE_MAX_AGE_MINUTES=60)')).toBe('age');
    expect(recycleKind('unhealthy for 31 s (health check: timeout)')).toBe('unhealthy');
    expect(recycleKind('drain requested through the API')).toBe('drain');
    expect(recycleKind('its process exited (code null, signal SIGKILL)')).toBe('exited');
  });
});

describe('LatencyWindow', () => {
  it('keeps the last samples and answers nearest-rank percentiles', () => {
    const window = new LatencyWindow(4);
    expect(window.percentile(50)).toBeNull();
    for (const ms of [100, 1, 2, 3, 4]) window.add(ms); // 100 falls out
    expect(window.percentile(50)).toBe(2);
    expect(window.percentile(95)).toBe(4);
    expect(window.percentile(0)).toBe(1);
  });
});

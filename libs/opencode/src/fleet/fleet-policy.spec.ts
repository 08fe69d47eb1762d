import { AFFINITY_LOAD_BOUND, LatencyWindow, placeRun, recycleKind, recycleReason, ServerLoad } from './fleet-policy';

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

describe('placeRun by directory (rendezvous hashing with bounded loads)', () => {
  const dirs = Array.from({ length: 400 }, (_, i) => `/work/repos/project-${i}/.worktrees/slot-${i % 8}`);
  const two = (over: Record<string, Partial<ServerLoad>> = {}) => [
    server('w-m0g1', { affinityKey: 'm0', maxSessions: 25, ...over.a }),
    server('w-m1g1', { affinityKey: 'm1', maxSessions: 25, ...over.b }),
  ];

  it("sends a directory's runs to the same server every time, and spreads directories over the servers", () => {
    const first = dirs.map((d) => placeRun(two(), d));
    expect(dirs.map((d) => placeRun(two(), d))).toEqual(first);
    const onA = first.filter((id) => id === 'w-m0g1').length;
    expect(onA).toBeGreaterThan(160); // about half of 400
    expect(onA).toBeLessThan(240);
  });

  it("keeps a slot's directories on its next generation (the affinity key, not the id), and moves only a removed server's directories", () => {
    const before = dirs.map((d) => placeRun(two(), d));
    const replaced = two({ a: { id: 'w-m0g7' } });
    expect(dirs.map((d) => placeRun(replaced, d))).toEqual(before.map((id) => (id === 'w-m0g1' ? 'w-m0g7' : id)));
    const three = [...two(), server('w-m2g1', { affinityKey: 'm2', maxSessions: 25 })];
    const after = dirs.map((d) => placeRun(three, d));
    // Adding a server moves only the directories it takes over, none between the old two.
    after.forEach((id, i) => expect(id === before[i] || id === 'w-m2g1').toBe(true));
    expect(after.filter((id) => id === 'w-m2g1').length).toBeGreaterThan(80);
  });

  it("spills a directory's run to the next server once its own is past the bound of the average load", () => {
    const dir = dirs.find((d) => placeRun(two(), d) === 'w-m0g1')!;
    // 12 + 12 running, 25 turns each: the next run may take a server to ceil(1.25 * 25 / 2) = 16.
    expect(placeRun(two({ a: { sessionsRunning: 12 }, b: { sessionsRunning: 12 } }), dir)).toBe('w-m0g1');
    expect(placeRun(two({ a: { sessionsRunning: 15 }, b: { sessionsRunning: 9 } }), dir)).toBe('w-m0g1');
    expect(placeRun(two({ a: { sessionsRunning: 16 }, b: { sessionsRunning: 8 } }), dir)).toBe('w-m1g1');
    // An idle fleet: the first run goes where its directory belongs.
    expect(placeRun(two(), dir)).toBe('w-m0g1');
    expect(AFFINITY_LOAD_BOUND).toBe(1.25);
  });

  it('passes over a server that is not READY, full or much slower than the others, and falls back to headroom', () => {
    const dir = dirs.find((d) => placeRun(two(), d) === 'w-m0g1')!;
    expect(placeRun(two({ a: { state: 'DRAINING' } }), dir)).toBe('w-m1g1');
    expect(placeRun(two({ a: { sessionsRunning: 25 }, b: { sessionsRunning: 25 } }), dir)).toBeNull();
    expect(placeRun(two({ a: { latencyP50Ms: 2_400 }, b: { latencyP50Ms: 20 } }), dir)).toBe('w-m1g1');
    // Slow but both: the most headroom.
    expect(placeRun(two({ a: { latencyP50Ms: 2_400, sessionsRunning: 1 }, b: { latencyP50Ms: 2_000, sessionsRunning: 3 } }), dir)).toBe('w-m0g1');
    // One server: it, whatever the directory.
    expect(placeRun([server('only', { sessionsRunning: 9 })], dir)).toBe('only');
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

import { SESSION_TRANSITIONS } from '@app/session';
import { attemptAt, expectedFiles, historyProblems, latencyFigures, SessionEvent } from './soak-checks';

// The domain's own table (the soak run loads the same one from the build it runs).
const TABLE: Readonly<Record<string, readonly string[]>> = SESSION_TRANSITIONS;

const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const history = (...moves: Array<[string | null, string, number]>): SessionEvent[] => moves.map(([from, to, attempt], i) => ({ from, to, attempt, reason: 'r', at: at(i) }));

describe('soak checks', () => {
  it('finds nothing wrong with a failover history', () => {
    const events = history([null, 'PENDING', 1], ['PENDING', 'QUEUED', 1], ['QUEUED', 'RUNNING', 1], ['RUNNING', 'FAILED', 1], ['FAILED', 'QUEUED', 2], ['QUEUED', 'RUNNING', 2], ['RUNNING', 'COMPLETED', 2]);
    expect(historyProblems(events, 'COMPLETED', TABLE)).toEqual([]);
  });

  it('reports a forbidden transition, a gap, a skipped attempt and an end that is not the status', () => {
    expect(historyProblems(history([null, 'PENDING', 1], ['PENDING', 'RUNNING', 1]), 'RUNNING', TABLE)).toEqual([expect.stringMatching(/^forbidden PENDING→RUNNING/)]);
    expect(historyProblems(history([null, 'PENDING', 1], ['QUEUED', 'RUNNING', 1]), 'RUNNING', TABLE)).toEqual([expect.stringMatching(/^gap: null→PENDING then QUEUED→RUNNING/)]);
    expect(historyProblems(history([null, 'PENDING', 1], ['PENDING', 'QUEUED', 3]), 'QUEUED', TABLE)).toEqual([expect.stringMatching(/skipped/)]);
    expect(historyProblems(history([null, 'PENDING', 1], ['PENDING', 'CANCELLED', 1]), 'COMPLETED', TABLE)).toEqual([expect.stringMatching(/ends in CANCELLED/)]);
    expect(historyProblems([], 'PENDING', TABLE)).toEqual(['no history']);
  });

  it('assigns an OpenCode session to the attempt under way when it was made', () => {
    const events = history([null, 'PENDING', 1], ['PENDING', 'QUEUED', 1], ['QUEUED', 'RUNNING', 1], ['RUNNING', 'FAILED', 1], ['FAILED', 'QUEUED', 2], ['QUEUED', 'RUNNING', 2]);
    expect(attemptAt(events, Date.parse(at(2)) + 500)).toBe(1);
    expect(attemptAt(events, Date.parse(at(5)) + 500)).toBe(2);
  });

  it('reads the files a prompt asks for', () => {
    expect(expectedFiles('Soak. [[write soak/s1.txt]]a b\n[[/write]] [[slow 3]] [[write x.txt]][[/write]]')).toEqual([
      { path: 'soak/s1.txt', content: 'a b\n' },
      { path: 'x.txt', content: '' },
    ]);
  });

  it('counts failed probes and takes their time into the percentiles', () => {
    const f = latencyFigures([
      { ms: 10, status: 200 },
      { ms: 20, status: 200 },
      { ms: 5000, status: 0 },
      { ms: 30, status: 503 },
    ]);
    expect(f).toEqual({ probes: 4, failed: 2, p50: 20, p99: 5000, max: 5000 });
  });
});

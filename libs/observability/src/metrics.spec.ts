import { METRIC, METRIC_NAMES } from './metric-names';
import { Metrics } from './metrics';
import { scrapeSamples as samples } from './testing';

async function families(metrics: Metrics): Promise<string[]> {
  const text = await metrics.scrape();
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name]) => name);
}

describe('Metrics', () => {
  let metrics: Metrics;
  beforeEach(() => {
    metrics = new Metrics({ defaultMetrics: false });
  });

  it('registers every metric of metric-names.ts, with the declared type', async () => {
    const text = await metrics.scrape();
    const declared = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name, type]));
    for (const name of METRIC_NAMES) expect({ name, registered: declared.has(name) }).toEqual({ name, registered: true });
    expect(declared.get(METRIC.sessionDuration)).toBe('histogram');
    expect(declared.get(METRIC.sessionTransitions)).toBe('counter');
    expect(declared.get(METRIC.sessions)).toBe('gauge');
  });

  it("includes prom-client's process metrics unless told not to, in its own registry", async () => {
    const withDefaults = new Metrics();
    expect(await families(withDefaults)).toEqual(
      expect.arrayContaining(['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds']),
    );
    expect(await families(metrics)).not.toContain('process_cpu_seconds_total');
  });

  it('leaves opencode_up absent until a probe sets it', async () => {
    const values = await samples(metrics);
    expect(values.get(METRIC.opencodeServerRestarts)).toBe(0);
    expect([...values.keys()].some((series) => series.startsWith(METRIC.opencodeUp))).toBe(false);
    metrics.opencodeUp.set(1);
    expect((await samples(metrics)).get(METRIC.opencodeUp)).toBe(1);
  });

  it('sets a background-refreshed gauge from its source, known values at 0, only when refreshed, and clears it when undone', async () => {
    let counts: Record<string, number> = { QUEUED: 2 };
    const read = jest.fn(async () => counts);
    const undo = metrics.refreshInBackground('sessions', { read, known: ['PENDING', 'QUEUED'] });
    let values = await samples(metrics);
    expect([...values.keys()].some((s) => s.startsWith(`${METRIC.sessions}{`))).toBe(false);
    expect(read).not.toHaveBeenCalled();

    expect(await metrics.refreshAggregates()).toEqual({ refreshed: [METRIC.sessions], failed: [] });
    values = await samples(metrics);
    expect(values.get(`${METRIC.sessions}{status="PENDING"}`)).toBe(0);
    expect(values.get(`${METRIC.sessions}{status="QUEUED"}`)).toBe(2);

    counts = { RUNNING: 1 };
    for (let i = 0; i < 5; i++) await samples(metrics);
    expect(read).toHaveBeenCalledTimes(1); // scrapes never read the source
    expect((await samples(metrics)).get(`${METRIC.sessions}{status="QUEUED"}`)).toBe(2);

    await metrics.refreshAggregates();
    values = await samples(metrics);
    expect(values.get(`${METRIC.sessions}{status="QUEUED"}`)).toBe(0);
    expect(values.get(`${METRIC.sessions}{status="RUNNING"}`)).toBe(1);
    undo();
    values = await samples(metrics);
    expect([...values.keys()].some((s) => s.startsWith(METRIC.sessions) || s.startsWith(METRIC.metricsAggregatesAge))).toBe(false);
    await metrics.refreshAggregates();
    expect(read).toHaveBeenCalledTimes(2);
  });

  it('exports the age of each aggregate from its last successful refresh, absent before the first', async () => {
    let now = 1_000_000;
    const clocked = new Metrics({ defaultMetrics: false, now: () => now });
    let fail = false;
    clocked.refreshInBackground('plans', { read: async () => (fail ? Promise.reject(new Error('down')) : { RUNNING: 1 }) });
    clocked.refreshInBackground('queueJobs', { read: async () => ({ waiting: 3 }) });
    const age = (metric: string) => `${METRIC.metricsAggregatesAge}{metric="${metric}"}`;
    expect([...(await samples(clocked)).keys()].some((s) => s.startsWith(METRIC.metricsAggregatesAge))).toBe(false);

    await clocked.refreshAggregates();
    now += 4_500;
    let values = await samples(clocked);
    expect(values.get(age(METRIC.plans))).toBe(4.5);
    expect(values.get(age(METRIC.queueJobs))).toBe(4.5);

    fail = true;
    expect(await clocked.refreshAggregates()).toEqual({ refreshed: [METRIC.queueJobs], failed: [{ metric: METRIC.plans, reason: 'down' }] });
    now += 10_000;
    values = await samples(clocked);
    expect(values.get(age(METRIC.plans))).toBe(14.5); // stale: kept its last values
    expect(values.get(`${METRIC.plans}{status="RUNNING"}`)).toBe(1);
    expect(values.get(age(METRIC.queueJobs))).toBe(10);
  });

  it('runs one refresh at a time, gives up on a source that does not answer in time, and does not read it again until it has', async () => {
    const slow = new Metrics({ defaultMetrics: false, aggregateTimeoutMs: 50 });
    let answer!: (counts: Record<string, number>) => void;
    const hanging = jest.fn(() => new Promise<Record<string, number>>((resolve) => (answer = resolve)));
    const quick = jest.fn(async () => ({ waiting: 1 }));
    slow.refreshInBackground('sessions', { read: hanging, known: ['PENDING'] });
    slow.refreshInBackground('queueJobs', { read: quick });

    const first = slow.refreshAggregates();
    expect(slow.refreshAggregates()).toBe(first); // joined, not a second refresh
    expect(await first).toEqual({ refreshed: [METRIC.queueJobs], failed: [{ metric: METRIC.sessions, reason: 'no answer within 50 ms' }] });
    expect(quick).toHaveBeenCalledTimes(1);

    expect((await slow.refreshAggregates()).failed).toEqual([{ metric: METRIC.sessions, reason: 'its previous read has not answered yet' }]);
    expect(hanging).toHaveBeenCalledTimes(1);
    expect(quick).toHaveBeenCalledTimes(2);

    answer({ PENDING: 7 });
    await new Promise((resolve) => setImmediate(resolve));
    expect((await slow.refreshAggregates()).failed).toEqual([{ metric: METRIC.sessions, reason: 'no answer within 50 ms' }]);
    expect(hanging).toHaveBeenCalledTimes(2);
    // A late answer is not used: the gauge is set by a read that answered in time.
    expect([...(await samples(slow)).keys()].some((s) => s.startsWith(`${METRIC.sessions}{`))).toBe(false);
  });

  it('keeps a source that throws at once from failing the refresh of the others', async () => {
    metrics.refreshInBackground('plans', {
      read: () => {
        throw new Error('not connected');
      },
    });
    metrics.refreshInBackground('planTasks', { read: async () => ({ READY: 2 }) });
    expect(await metrics.refreshAggregates()).toEqual({ refreshed: [METRIC.planTasks], failed: [{ metric: METRIC.plans, reason: 'not connected' }] });
    expect((await samples(metrics)).get(`${METRIC.planTasks}{status="READY"}`)).toBe(2);
  });
});

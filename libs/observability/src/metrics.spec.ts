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

  it('reads scrape-time gauges from their source, known values at 0, and stops when undone', async () => {
    let counts: Record<string, number> = { QUEUED: 2 };
    const undo = metrics.collectAtScrape('sessions', { read: async () => counts, known: ['PENDING', 'QUEUED'] });
    let values = await samples(metrics);
    expect(values.get(`${METRIC.sessions}{status="PENDING"}`)).toBe(0);
    expect(values.get(`${METRIC.sessions}{status="QUEUED"}`)).toBe(2);
    counts = { RUNNING: 1 };
    values = await samples(metrics);
    expect(values.get(`${METRIC.sessions}{status="QUEUED"}`)).toBe(0);
    expect(values.get(`${METRIC.sessions}{status="RUNNING"}`)).toBe(1);
    undo();
    counts = { RUNNING: 5 };
    expect((await samples(metrics)).get(`${METRIC.sessions}{status="RUNNING"}`)).toBe(1);
  });

  it('leaves a gauge empty, not the scrape failed, when its source fails or does not answer in time', async () => {
    const slow = new Metrics({ defaultMetrics: false, sourceTimeoutMs: 50 });
    slow.collectAtScrape('sessions', { read: () => Promise.reject(new Error('database down')), known: ['PENDING'] });
    slow.collectAtScrape('queueJobs', { read: () => new Promise(() => undefined), known: ['waiting'] });
    const started = Date.now();
    const values = await samples(slow);
    expect(Date.now() - started).toBeLessThan(1000);
    expect([...values.keys()].some((s) => s.startsWith(METRIC.sessions) || s.startsWith(METRIC.queueJobs))).toBe(false);
    expect(values.get(METRIC.lockDeadlocks)).toBe(0);
  });
});

import { METRIC, METRIC_NAMES } from './metric-names';
import { lockKind, Metrics } from './metrics';

/** `name{labels} value` lines of a scrape, by series (labels as written by prom-client). */
async function samples(metrics: Metrics): Promise<Map<string, number>> {
  const text = await metrics.scrape();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

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

  it('starts lost leases and contention at 0 for every lock kind, and leaves opencode_up absent until a probe', async () => {
    const values = await samples(metrics);
    for (const kind of ['session', 'workspace', 'other']) {
      expect(values.get(`${METRIC.lockLost}{kind="${kind}"}`)).toBe(0);
      expect(values.get(`${METRIC.lockContention}{kind="${kind}"}`)).toBe(0);
    }
    expect(values.get(METRIC.lockDeadlocks)).toBe(0);
    expect(values.get(METRIC.opencodeServerRestarts)).toBe(0);
    expect([...values.keys()].some((series) => series.startsWith(METRIC.opencodeUp))).toBe(false);
    metrics.opencodeUp.set(1);
    expect((await samples(metrics)).get(METRIC.opencodeUp)).toBe(1);
  });

  it.each([
    ['session:3f2c', 'session'],
    ['workspace:/tmp/a:b', 'workspace'],
    ['plan:1', 'other'],
    ['nocolon', 'other'],
    ['', 'other'],
  ])('names the kind of lock %s %s', (resource, kind) => {
    expect(lockKind(resource)).toBe(kind);
  });

  it('records lock answers by kind and outcome, contention and deadlock victims', async () => {
    const observer = metrics.lockObserver();
    observer.acquired('session:a', 2, 'granted', false);
    observer.acquired('session:b', 1500, 'granted', true);
    observer.acquired('workspace:/w', 30_000, 'timeout', true);
    observer.acquired('x:y', 1000, 'deadlock', true);
    observer.lost('workspace:/w');
    const values = await samples(metrics);
    expect(values.get(`${METRIC.lockWait}_count{kind="session",outcome="granted"}`)).toBe(2);
    expect(values.get(`${METRIC.lockWait}_sum{kind="session",outcome="granted"}`)).toBeCloseTo(1.502);
    expect(values.get(`${METRIC.lockWait}_bucket{le="0.005",kind="session",outcome="granted"}`)).toBe(1);
    expect(values.get(`${METRIC.lockWait}_count{kind="workspace",outcome="timeout"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="session"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="workspace"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="other"}`)).toBe(1);
    expect(values.get(METRIC.lockDeadlocks)).toBe(1);
    expect(values.get(`${METRIC.lockLost}{kind="workspace"}`)).toBe(1);
  });

  it('labels an OpenCode request by its status, or by the error kind when no answer came', async () => {
    metrics.opencodeRequest({ route: '/session/:id/message', method: 'get', status: 200, durationMs: 12 });
    metrics.opencodeRequest({ route: '/session/:id', method: 'GET', status: 404, error: 'http', durationMs: 3 });
    metrics.opencodeRequest({ route: '/session', method: 'POST', error: 'timeout', durationMs: 15_000 });
    const values = await samples(metrics);
    expect(values.get(`${METRIC.opencodeRequestDuration}_count{route="/session/:id/message",method="GET",status="200"}`)).toBe(1);
    expect(values.get(`${METRIC.opencodeRequestDuration}_count{route="/session/:id",method="GET",status="404"}`)).toBe(1);
    expect(values.get(`${METRIC.opencodeRequestDuration}_count{route="/session",method="POST",status="timeout"}`)).toBe(1);
    expect(values.get(`${METRIC.opencodeRequestErrors}{route="/session/:id",kind="http"}`)).toBe(1);
    expect(values.get(`${METRIC.opencodeRequestErrors}{route="/session",kind="timeout"}`)).toBe(1);
    expect([...values.keys()].filter((s) => s.startsWith(METRIC.opencodeRequestErrors))).toHaveLength(2);
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

  it('lets the plans module set plan and task gauges, replacing the last values', async () => {
    metrics.setPlanGauges({ plans: { ACTIVE: 2, DONE: 1 }, tasks: { READY: 3 } });
    metrics.setPlanGauges({ plans: { ACTIVE: 1 }, tasks: { READY: 0, RUNNING: 2 } });
    const values = await samples(metrics);
    expect(values.get(`${METRIC.plans}{status="ACTIVE"}`)).toBe(1);
    expect(values.has(`${METRIC.plans}{status="DONE"}`)).toBe(false);
    expect(values.get(`${METRIC.planTasks}{status="RUNNING"}`)).toBe(2);
  });

  it('records HTTP requests by method, route and status', async () => {
    metrics.httpRequest('get', '/api/v1/sessions/:id', 404, 0.004);
    const values = await samples(metrics);
    expect(values.get(`${METRIC.httpRequestDuration}_bucket{le="0.005",method="GET",route="/api/v1/sessions/:id",status="404"}`)).toBe(1);
  });
});

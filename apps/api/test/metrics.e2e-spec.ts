import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createRootLogger, METRIC, METRIC_NAMES } from '@app/observability';
import { parse } from 'yaml';
import {
  dashboardMetricNames,
  metricFamily,
  MONITORING_DIR,
  parsePromql,
  PROM_CLIENT_DEFAULT_METRICS,
  PROMETHEUS_SYNTHETIC_METRICS,
} from '../../../infrastructure/monitoring/dashboard-metrics';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { testConfig } from '../../../test/support/database';
import { freePort } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait';
import { WorkerModule } from '../../worker/src/worker.module';
import { WorkerMetricsServer } from '../../worker/src/worker-metrics.server';

// ------------------------------------------------------------------ a small exposition reader
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

class Scrape {
  readonly samples: Sample[];
  /** Families as the `# TYPE` lines name them (a histogram by its own name). */
  readonly families: Set<string>;

  constructor(readonly text: string) {
    this.families = new Set([...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map(([, name]) => name));
    this.samples = text
      .split('\n')
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => {
        const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!m) throw new Error(`cannot read the exposition line: ${line}`);
        const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k, v]));
        return { name: m[1], labels, value: Number(m[3]) };
      });
  }

  /** The sum of the series of `name` whose labels include `labels`. */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((total, s) => total + s.value, 0);
  }

  has(name: string, labels: Record<string, string> = {}): boolean {
    return this.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** Families with at least one sample (a histogram's _bucket/_sum/_count count for it). */
  familiesWithSamples(): Set<string> {
    const known = [...this.families];
    return new Set(this.samples.map((s) => metricFamily(s.name, known)));
  }

  values(label: string): string[] {
    return [...new Set(this.samples.map((s) => s.labels[label]).filter((v) => v !== undefined))];
  }
}

/** Pino JSON lines, kept as written. */
function logCapture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

/** The metric names the alert rules query (Prometheus's own `up` aside). */
function alertMetricNames(): string[] {
  const rules = (parse(readFileSync(join(MONITORING_DIR, 'prometheus/alerts.yml'), 'utf8')) as {
    groups: { rules: { expr: string }[] }[];
  }).groups.flatMap((group) => group.rules);
  const families = [...METRIC_NAMES, ...PROM_CLIENT_DEFAULT_METRICS];
  const synthetic: readonly string[] = PROMETHEUS_SYNTHETIC_METRICS;
  return [
    ...new Set(
      rules
        .flatMap((rule) => parsePromql(rule.expr).selectors)
        .map((selector) => metricFamily(selector.name, families))
        .filter((name) => !synthetic.includes(name)),
    ),
  ];
}

/** The job states orchestrator_queue_jobs reports (the session context's queue gauge). */
const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'];
const API_KEY = 'metrics-e2e-key-123';
const AUTH = { authorization: `Bearer ${API_KEY}` };

/**
 * The API with its worker in one process (one registry): /metrics before and after a real
 * session run, the correlation id from an HTTP request to the worker's log lines, and every
 * metric the dashboard and the alert rules query present in a live scrape (API and worker).
 */
describe('Metrics and logs of a real run', () => {
  let t: TestApp;
  const logs = logCapture();
  const scrapes: Scrape[] = [];

  const scrape = async () => {
    const res = await t.http.get('/metrics').expect(200);
    const result = new Scrape(res.text);
    scrapes.push(result);
    return result;
  };

  beforeAll(async () => {
    // LOG_LEVEL log: the worker's run lines are info lines; they go to the capture, not the console.
    // A long lease: no recovery sweep (every WORKER_LEASE_SECONDS) runs during the file, so only
    // the runs the tests start move the counters. The deployment-wide gauges refreshed every second.
    t = await createTestApp({ logs: logs.stream, env: { LOG_LEVEL: 'log', API_KEY, WORKER_LEASE_SECONDS: '600', METRICS_REFRESH_SECONDS: '1' } });
  });
  afterAll(() => t?.close());

  it('serves /metrics without the API key, outside Swagger, while /api needs the key', async () => {
    const res = await t.http.get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain(`# TYPE ${METRIC.sessionTransitions} counter`);
    const refused = await t.http.get('/api/v1/sessions').set('x-request-id', 'refused-1').expect(401);
    expect(refused.headers['x-request-id']).toBe('refused-1');
    const docs = (await t.http.get('/docs-json').expect(200)).body as { paths: Record<string, unknown> };
    expect(Object.keys(docs.paths)).not.toContain('/metrics');
  });

  it(
    'moves the transition, duration, queue wait, token, cost, run, OpenCode, lock and HTTP metrics by one run, and the run logs carry the request id',
    async () => {
      await waitFor(scrape, (s) => s.has(METRIC.opencodeUp), { timeoutMs: 20_000, what: 'the first OpenCode health probe' });
      const before = await scrape();
      const workspace = makeTempWorkspace();

      const created = await t.http
        .post('/api/v1/sessions')
        .set(AUTH)
        .send({ title: 'metrics', workspace, prompt: 'Write it. [[write a.txt]]x[[/write]]' })
        .expect(201);
      const id = created.body.id as string;
      const started = await t.http.post(`/api/v1/sessions/${id}/start`).set(AUTH).set('x-request-id', 'test-123').expect(202);
      expect(started.headers['x-request-id']).toBe('test-123');

      const done = await waitFor(
        async () => (await t.http.get(`/api/v1/sessions/${id}`).set(AUTH)).body,
        (s) => ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'].includes(s.status),
        { timeoutMs: 60_000, what: `session ${id} to finish` },
      );
      expect(done.status).toBe('COMPLETED');
      expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('x');
      const after = await waitFor(scrape, (s) => s.sum(METRIC.sessionTransitions, { to: 'COMPLETED' }) > before.sum(METRIC.sessionTransitions, { to: 'COMPLETED' }), {
        what: 'the COMPLETED transition in /metrics',
      });
      const delta = (name: string, labels: Record<string, string> = {}) => after.sum(name, labels) - before.sum(name, labels);

      // Transitions, each counted once: by this process, which wrote them.
      for (const [from, to] of [['NONE', 'PENDING'], ['PENDING', 'QUEUED'], ['QUEUED', 'RUNNING'], ['RUNNING', 'COMPLETED']]) {
        expect({ from, to, delta: delta(METRIC.sessionTransitions, { from, to }) }).toEqual({ from, to, delta: 1 });
      }
      expect(delta(`${METRIC.sessionDuration}_count`, { status: 'COMPLETED' })).toBe(1);
      const ranFor = (new Date(done.finishedAt).getTime() - new Date(done.startedAt).getTime()) / 1000;
      expect(delta(`${METRIC.sessionDuration}_sum`, { status: 'COMPLETED' })).toBeCloseTo(ranFor, 3);
      expect(delta(`${METRIC.sessionQueueWait}_count`)).toBe(1);

      // Tokens, cost and the run, by agent 'none', role 'none' (a plain session) and the model it ran on (the server's default).
      expect(done.modelUsed).toBe(process.env.OPENCODE_MODEL);
      const who = { agent: 'none', role: 'none', model: done.modelUsed };
      expect(done.usage.inputTokens).toBeGreaterThan(0);
      expect(delta(METRIC.tokens, { ...who, kind: 'input' })).toBe(done.usage.inputTokens);
      expect(delta(METRIC.tokens, { ...who, kind: 'output' })).toBe(done.usage.outputTokens);
      expect(done.usage.costUsd).toBeGreaterThan(0);
      expect(delta(METRIC.cost, who)).toBeCloseTo(done.usage.costUsd, 9);
      expect(delta(METRIC.agentRuns, { agent: 'none', role: 'none', outcome: 'COMPLETED' })).toBe(1);

      // OpenCode requests by route template, never a raw id.
      const opencode = `${METRIC.opencodeRequestDuration}_count`;
      expect(delta(opencode, { route: '/session', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(1);
      expect(delta(opencode, { route: '/session/:id/prompt_async', method: 'POST' })).toBeGreaterThanOrEqual(1);
      expect(after.values('route').filter((route) => /ses_|msg_|[0-9a-f]{8}-[0-9a-f]{4}/.test(route))).toEqual([]);
      expect(after.sum(METRIC.opencodeUp)).toBe(1);

      // Locks: the start took session:<id>, the run workspace:<path>.
      expect(delta(`${METRIC.lockWait}_count`, { kind: 'session', outcome: 'granted' })).toBeGreaterThanOrEqual(1);
      expect(delta(`${METRIC.lockWait}_count`, { kind: 'workspace', outcome: 'granted' })).toBe(1);

      // HTTP by route pattern.
      const http = `${METRIC.httpRequestDuration}_count`;
      expect(delta(http, { method: 'POST', route: '/api/v1/sessions', status: '201' })).toBe(1);
      expect(delta(http, { method: 'POST', route: '/api/v1/sessions/:id/start', status: '202' })).toBe(1);
      expect(delta(http, { method: 'GET', route: '/api/v1/sessions/:id', status: '200' })).toBeGreaterThanOrEqual(1);
      expect(after.values('route').filter((route) => route.includes(id))).toEqual([]);

      // The deployment-wide gauges, refreshed in the background (every second here): the run shows
      // at the next refresh, and each gauge's age stays below a few refresh intervals.
      const refreshed = await waitFor(
        scrape,
        (s) => s.sum(METRIC.sessions, { status: 'COMPLETED' }) >= 1 && s.sum(METRIC.queueJobs, { state: 'completed' }) >= 1,
        { what: 'the COMPLETED session and its job in the refreshed gauges' },
      );
      expect(refreshed.has(METRIC.sessions, { status: 'RUNNING' })).toBe(true);
      const states = refreshed.samples.filter((s) => s.name === METRIC.queueJobs).map((s) => s.labels.state);
      expect(states.sort()).toEqual([...QUEUE_STATES].sort());
      for (const metric of [METRIC.sessions, METRIC.queueJobs, METRIC.plans, METRIC.planTasks]) {
        expect({ metric, exported: refreshed.has(METRIC.metricsAggregatesAge, { metric }) }).toEqual({ metric, exported: true });
        expect(refreshed.sum(METRIC.metricsAggregatesAge, { metric })).toBeLessThan(30);
      }

      // The correlation id: the start request's line, and the worker's lines of that run.
      const tagged = logs.lines.filter((line) => line.correlationId === 'test-123');
      expect(tagged).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ msg: 'request completed', req: { method: 'POST', url: `/api/v1/sessions/${id}/start` } }),
          expect.objectContaining({ context: 'SessionRunWorker', sessionId: id, msg: expect.stringMatching(/started/) }),
          expect.objectContaining({ context: 'SessionRunWorker', sessionId: id, msg: expect.stringMatching(/ended/) }),
        ]),
      );
      const otherRequests = logs.lines.filter((line) => line.msg === 'request completed' && line.correlationId !== 'test-123');
      expect(otherRequests.length).toBeGreaterThan(0);
      expect(otherRequests.every((line) => typeof line.correlationId === 'string')).toBe(true);
    },
  );

  describe('the worker process', () => {
    let worker: INestApplicationContext;
    let port: number;
    let closed = false;

    beforeAll(async () => {
      port = await freePort('127.0.0.1');
      const config = testConfig({ WORKER_METRICS_PORT: String(port), WORKER_LEASE_SECONDS: '600' });
      worker = await NestFactory.createApplicationContext(
        WorkerModule.forRoot(config, { logger: createRootLogger({ level: 'silent' }) }),
        { logger: ['error'] },
      );
    });
    afterAll(async () => {
      if (worker && !closed) await worker.close();
    });

    it('serves /metrics and /health on WORKER_METRICS_PORT', async () => {
      expect(worker.get(WorkerMetricsServer).port).toBe(port);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok', databaseWaits: { runs: 0 } }); // no run waits for PostgreSQL
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      scrapes.push(new Scrape(text));
      expect(text).toContain('process_cpu_seconds_total');
      expect(text).toMatch(new RegExp(`^${METRIC.sessionTransitions}\\{from="PENDING",to="QUEUED"\\} 0$`, 'm'));
      // The deployment-wide gauges are the API's: a worker refreshes none, so more workers cost PostgreSQL nothing.
      for (const metric of [METRIC.sessions, METRIC.queueJobs, METRIC.plans, METRIC.planTasks, METRIC.metricsAggregatesAge]) {
        expect({ metric, sampled: new RegExp(`^${metric}\\{`, 'm').test(text) }).toEqual({ metric, sampled: false });
      }
      expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);
    });

    it('closes the port with the worker', async () => {
      await worker.close();
      closed = true;
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    });
  });

  it('exports, across the scrapes of the API and the worker, every metric the dashboard and the alert rules query', () => {
    const exported = new Set(scrapes.flatMap((s) => [...s.families]));
    const wanted = [...new Set([...dashboardMetricNames(), ...alertMetricNames()])].sort();
    expect(wanted.length).toBeGreaterThan(20);
    expect(wanted.filter((name) => !exported.has(name))).toEqual([]);

    // With samples too (the plan gauges show every status at scrape time, 0 included).
    const sampled = new Set(scrapes.flatMap((s) => [...s.familiesWithSamples()]));
    // Errors need an OpenCode failure; RSS, a managed OpenCode server (the tests' is external).
    // Labelled by a model or a budget's id, no sample until a run meets one (cost-control.e2e-spec.ts
    // drives them: 429s, quotas, fallbacks, throttles, budgets).
    const rare: string[] = [
      METRIC.opencodeRequestErrors,
      METRIC.opencodeServerRss,
      METRIC.sessionsThrottled,
      METRIC.providerRateLimits,
      METRIC.providerQuotaExhausted,
      METRIC.modelFallbacks,
      METRIC.budgetRemaining,
    ];
    expect(wanted.filter((name) => !sampled.has(name) && !rare.includes(name))).toEqual([]);
  });
});

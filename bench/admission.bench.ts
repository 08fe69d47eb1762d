/**
 * npm run bench:admission — what provider capacity control (PROVIDER_LIMITS) buys against a
 * provider that answers 429 above 10 concurrent requests. One managed OpenCode server on the
 * rehearsal provider started with `{ maxConcurrentRequests: BENCH_PROVIDER_CAP, rateLimitRetryAfterSeconds: 1 }`
 * serves each run (a fresh one per run: a 429 storm leaves a server swollen and slow); the app (HTTP API + BullMQ worker + PostgreSQL +
 * Redis, one process) is pointed at it through OPENCODE_HOST/PORT/PASSWORD/MODEL, and started
 * anew for each run, with its own queue prefix, database and data directory:
 *
 *  - "no limit" (baseline): PROVIDER_LIMITS unset;
 *  - "limit":               PROVIDER_LIMITS=`rehearsal/*=concurrency:BENCH_LIMIT`.
 *
 * Both: MAX_CONCURRENT_SESSIONS = OPENCODE_SERVER_MAX_SESSIONS = BENCH_CONCURRENCY (25: without a
 * limit more requests than the provider's cap reach it at once). BENCH_SESSIONS sessions, each in
 * one of BENCH_CONCURRENCY directories (isolation "shared"), each one tool call (a file written) then a text; all
 * created, then all started through the API; waited for until final (COMPLETED, FAILED,
 * TIMED_OUT, CANCELLED) by paging GET /api/v1/sessions once a second.
 *
 * Figures per run: completed, failed (by error code), the provider's requests and 429s (its own
 * counters) and their share, its most requests in flight, wall time (first start POST to the last
 * finishedAt), sessions/s, and from GET /metrics orchestrator_provider_rate_limits_total and
 * orchestrator_sessions_throttled_total (by reason). Ratios limit / no limit. Then the admission
 * decision's p50/p99 (measureAdmissionLatency: 1,000 queued sessions over 50 models) against one
 * Redis GET per decision.
 *
 * Goals: with the limit 0 failed and < 1% of requests answered 429; admission p99 < 2 ms.
 * Exit code 1 when a goal is missed (all figures are printed first).
 *
 * Each session's closing answer streams for BENCH_ANSWER_SECONDS (2): a provider that answers at once
 * never has two requests in flight (measured: at most 1 with 25 turns at once), so nothing would be limited.
 *
 * Env: BENCH_SESSIONS (500), BENCH_ANSWER_SECONDS (2), BENCH_CONCURRENCY (25), BENCH_LIMIT (10), BENCH_PROVIDER_CAP (10),
 * BENCH_RUN_TIMEOUT_S (480: a run still going then is reported with its unfinished sessions). Uses the local PostgreSQL (a database per run, orchestrator_bench_admission_<pid>_*, dropped after it)
 * and Redis.
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { INestApplication } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ManagedOpencodeServer } from '@app/opencode';
import type { AxiosInstance } from 'axios';
import Redis from 'ioredis';
import { measureAdmissionLatency } from './support/admission-latency';
import { startBenchApp } from './support/bench-app';
import { dropDatabase } from './support/bench-database';
import { CountingLogger } from './support/counting-logger';
import { runPool } from './support/stats';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 500);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 25);
const LIMIT = Number(process.env.BENCH_LIMIT ?? 10);
const PROVIDER_CAP = Number(process.env.BENCH_PROVIDER_CAP ?? 10);
/** Seconds the provider takes over each session's closing answer: a real model's answers overlap (an instant one never has two requests in flight). */
const ANSWER_SECONDS = Number(process.env.BENCH_ANSWER_SECONDS ?? 2);
const RUN_TIMEOUT_MS = Number(process.env.BENCH_RUN_TIMEOUT_S ?? 480) * 1000;
const API_LANES = 20;
const GOAL_MAX_429_SHARE = 0.01;
const GOAL_P99_MS = 2;
const FINAL = new Set(['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);

interface SessionView {
  id: string;
  status: string;
  finishedAt: string | null;
  error: { code: string; message: string } | null;
}

interface RunResult {
  name: string;
  settings: string;
  completed: number;
  failed: number;
  unfinished: number;
  errors: Map<string, number>;
  requests: number;
  rateLimited: number;
  maxInFlight: number;
  wallSeconds: number;
  metricRateLimits: number;
  throttled: Map<string, number>;
}

const benchStart = performance.now();
const elapsed = () => `[${((performance.now() - benchStart) / 1000).toFixed(0)} s]`;

/** Sum of a counter's samples in Prometheus text, by the value of `label` ('' when absent). */
function counterBy(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (!Number.isFinite(value)) continue;
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? '';
    out.set(key, (out.get(key) ?? 0) + value);
  }
  return out;
}
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Polls the newest sessions (pages of 200) until every id is final or the deadline passes. */
async function waitAllFinal(api: AxiosInstance, ids: Set<string>, deadline: number): Promise<Map<string, SessionView>> {
  const done = new Map<string, SessionView>();
  while (done.size < ids.size && Date.now() < deadline) {
    await sleep(1_000);
    try {
      let cursor: string | undefined;
      const seen = new Set<string>();
      for (let page = 0; page < Math.ceil(ids.size / 200) + 2; page++) {
        const data = (await api.get('/api/v1/sessions', { params: { limit: 200, cursor } })).data as { items: SessionView[]; nextCursor?: string | null };
        for (const s of data.items) {
          if (!ids.has(s.id)) continue;
          seen.add(s.id);
          if (FINAL.has(s.status)) done.set(s.id, s);
        }
        cursor = data.nextCursor ?? undefined;
        if (!cursor || seen.size === ids.size) break;
      }
      // Sessions the pages did not show: read one by one.
      for (const id of ids) {
        if (seen.has(id) || done.has(id)) continue;
        const s = (await api.get(`/api/v1/sessions/${id}`)).data as SessionView;
        if (FINAL.has(s.status)) done.set(id, s);
      }
    } catch (err) {
      console.warn(`[watch] ${(err as Error).message}`);
    }
  }
  return done;
}

async function runOnce(name: string, root: string, server: ManagedOpencodeServer, providerLimits: string, logger: CountingLogger): Promise<RunResult> {
  const dir = join(root, name.replace(/\s+/g, '-'));
  const workspaces = join(dir, 'ws');
  mkdirSync(workspaces, { recursive: true });
  const { baseUrl, password } = server.endpoint();
  const url = new URL(baseUrl);
  const config = AppConfig.with({
    PORT: '0',
    DB_NAME: `orchestrator_bench_admission_${process.pid}_${providerLimits ? 'limit' : 'nolimit'}`,
    QUEUE_PREFIX: `bench-admission-${process.pid}-${providerLimits ? 'limit' : 'nolimit'}`,
    DATA_DIR: join(dir, 'data'),
    OPENCODE_HOST: url.hostname,
    OPENCODE_PORT: url.port,
    OPENCODE_PASSWORD: password ?? '',
    OPENCODE_MODEL: server.defaultModel,
    OPENCODE_HOSTS: '',
    OPENCODE_SERVER_MAX_SESSIONS: String(CONCURRENCY),
    MAX_CONCURRENT_SESSIONS: String(CONCURRENCY),
    PROVIDER_LIMITS: providerLimits,
    WORKSPACE_ROOTS: workspaces,
    API_KEY: '',
    LOG_LEVEL: 'error',
  });
  const settings = `PROVIDER_LIMITS=${providerLimits || '(unset)'}, MAX_CONCURRENT_SESSIONS=${CONCURRENCY}, OPENCODE_SERVER_MAX_SESSIONS=${CONCURRENCY}`;
  console.log(`${elapsed()} run "${name}": ${settings}`);
  server.rehearsal?.resetStats();

  let app: INestApplication | undefined;
  try {
    const started = await startBenchApp(config, logger, (a) => (app = a));
    const api = started.api;
    const ids: string[] = new Array(SESSIONS);
    // A pool of workspaces, one per worker slot: OpenCode loads an instance per directory (a few MB
    // and CPU each), which would otherwise be the figure measured rather than admission.
    const pool = Array.from({ length: CONCURRENCY }, (_, k) => mkdtempSync(join(workspaces, `w${k}-`)));
    await runPool(SESSIONS, API_LANES, async (i) => {
      const workspace = pool[i % pool.length];
      const body = { title: `admission ${name} ${i}`, prompt: `Admission benchmark ${i}. [[write out.txt]]x\n[[/write]] [[slow ${ANSWER_SECONDS}]]`, workspace, isolation: 'shared' };
      ids[i] = ((await api.post('/api/v1/sessions', body)).data as { id: string }).id;
    });
    console.log(`${elapsed()} ${SESSIONS} sessions created; starting them`);
    const startAt = Date.now();
    await runPool(SESSIONS, API_LANES, async (i) => void (await api.post(`/api/v1/sessions/${ids[i]}/start`)));
    const done = await waitAllFinal(api, new Set(ids), startAt + RUN_TIMEOUT_MS);
    const lastFinished = Math.max(...[...done.values()].map((s) => Date.parse(s.finishedAt ?? '') || 0), 0);
    const wallSeconds = ((lastFinished || Date.now()) - startAt) / 1000;
    const errors = new Map<string, number>();
    let completed = 0;
    for (const s of done.values()) {
      if (s.status === 'COMPLETED') completed++;
      else {
        const key = `${s.status}${s.error ? ` ${s.error.code}` : ''}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
    const metrics = String((await api.get('/metrics', { responseType: 'text' })).data);
    const stats = server.rehearsal?.stats() ?? { requests: NaN, rateLimited: NaN, maxInFlight: NaN };
    console.log(`${elapsed()} run "${name}" done: ${completed}/${SESSIONS} completed in ${wallSeconds.toFixed(1)} s`);
    return {
      name,
      settings,
      completed,
      failed: done.size - completed,
      unfinished: SESSIONS - done.size,
      errors,
      requests: stats.requests,
      rateLimited: stats.rateLimited,
      maxInFlight: stats.maxInFlight,
      wallSeconds,
      metricRateLimits: sum(counterBy(metrics, 'orchestrator_provider_rate_limits_total', 'reason')),
      throttled: counterBy(metrics, 'orchestrator_sessions_throttled_total', 'reason'),
    };
  } finally {
    await (app as INestApplication | undefined)?.close();
    await dropDatabase(config);
    await dropQueueKeys(config);
  }
}

/** And its queue's and capacity's keys in Redis (all under its own prefix). */
async function dropQueueKeys(config: AppConfig): Promise<void> {
  const redis = new Redis({ host: config.redis.host, port: config.redis.port, password: config.redis.password, lazyConnect: true });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${config.queuePrefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-admission-'));
  const logger = new CountingLogger({ root: new RegExp(root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') });
  // A fresh server (and provider) per run: a 429 storm leaves an OpenCode server swollen and slow,
  // which would otherwise be charged to the run after it.
  const makeServer = (name: string) =>
    new ManagedOpencodeServer({
      dataDir: join(root, `opencode-${name}`),
      parentEnv: process.env,
      sandbox: 'auto',
      writableRoots: [root],
      protectedDirs: [join(__dirname, '..')],
      password: randomBytes(12).toString('hex'),
      rehearsal: { maxConcurrentRequests: PROVIDER_CAP, rateLimitRetryAfterSeconds: 1 },
      stopGraceMs: 1_000,
      logger: { log: () => undefined, warn: (m) => !m.startsWith('No real model') && console.warn(`[opencode] ${m}`), error: (m) => console.error(`[opencode] ${m}`) },
    });
  let current: ManagedOpencodeServer | undefined;
  const onSignal = () => void (current?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);
  const byName = new Map<string, RunResult>();
  // The limited run first, on a machine nothing has disturbed yet; the baseline after it.
  for (const [name, limits] of [['limit', `rehearsal/*=concurrency:${LIMIT}`], ['no limit', '']] as const) {
    const server = (current = makeServer(name.replace(' ', '-')));
    try {
      await server.start();
      console.log(`${elapsed()} OpenCode ${server.endpoint().baseUrl}, model ${server.defaultModel}, provider cap ${PROVIDER_CAP} concurrent requests (429 above, retry-after 1 s)`);
      byName.set(name, await runOnce(name, root, server, limits, logger));
    } finally {
      await server.stop();
    }
  }
  const runs: RunResult[] = [byName.get('no limit')!, byName.get('limit')!];
  console.log(`${elapsed()} admission latency (1,000 sessions over 50 models)...`);
  const latency = await measureAdmissionLatency({ rounds: 8, sessions: 1_000, models: 50 });
  rmSync(root, { recursive: true, force: true });

  const share = (r: RunResult) => (r.requests > 0 ? r.rateLimited / r.requests : NaN);
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const [a, b] = runs;
  console.log(`\n=== bench:admission: ${SESSIONS} sessions, provider cap ${PROVIDER_CAP}, worker concurrency ${CONCURRENCY}; load avg ${loadavg().map((x) => x.toFixed(2)).join(' ')} ===`);
  const cols = ['run', 'completed', 'failed', 'unfinished', 'requests', '429s', '429 share', 'max in flight', 'wall s', 'sessions/s', 'metric 429s', 'throttled'];
  const rows = runs.map((r) => [
    r.name,
    String(r.completed),
    String(r.failed),
    String(r.unfinished),
    String(r.requests),
    String(r.rateLimited),
    pct(share(r)),
    String(r.maxInFlight),
    r.wallSeconds.toFixed(1),
    (r.completed / r.wallSeconds).toFixed(2),
    String(r.metricRateLimits),
    `${sum(r.throttled)}${r.throttled.size ? ` (${[...r.throttled].map(([k, v]) => `${k || '-'}:${v}`).join(', ')})` : ''}`,
  ]);
  const widths = cols.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i].length)));
  console.log(cols.map((c, i) => c.padEnd(widths[i])).join('  '));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join('  '));
  for (const r of runs) if (r.errors.size) console.log(`  ${r.name} not completed: ${[...r.errors].map(([k, v]) => `${k} x${v}`).join(', ')}`);
  console.log(`ratio limit / no limit: wall time ${(b.wallSeconds / a.wallSeconds).toFixed(2)}x, 429 share ${(share(b) / share(a)).toFixed(3)}x`);
  const l = (n: string, f: { p50Ms: number; p99Ms: number; decisions: number; admitted: number }) =>
    `${n.padEnd(28)} p50 ${f.p50Ms.toFixed(3)} ms   p99 ${f.p99Ms.toFixed(3)} ms   ${f.decisions} decisions, ${f.admitted} admitted`;
  console.log(l('admit (ProviderCapacity)', latency));
  console.log(l('baseline: one Redis GET', latency.baseline));
  console.log(`ratio admit / GET: p50 ${(latency.p50Ms / latency.baseline.p50Ms).toFixed(2)}x, p99 ${(latency.p99Ms / latency.baseline.p99Ms).toFixed(2)}x`);
  const goals: [string, boolean][] = [
    ['limit: 0 failed (and none unfinished)', b.failed === 0 && b.unfinished === 0],
    [`limit: 429 share < ${pct(GOAL_MAX_429_SHARE)}`, share(b) < GOAL_MAX_429_SHARE],
    [`admission p99 < ${GOAL_P99_MS} ms`, latency.p99Ms < GOAL_P99_MS],
  ];
  for (const [g, ok] of goals) console.log(`goal ${g}: ${ok ? 'met' : 'MISSED'}`);
  logger.report();
  if (goals.some(([, ok]) => !ok)) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * npm run bench:lifecycle — sessions/s through the orchestrator (HTTP API + BullMQ worker +
 * PostgreSQL) against a bare script sending the same prompts straight to the same
 * `opencode serve`, at the same concurrency, in one run. Rehearsal provider: every session
 * writes one file, so OpenCode does a real tool call.
 *
 * Env: BENCH_SESSIONS (200), BENCH_CONCURRENCY (25). Uses the local PostgreSQL (database
 * orchestrator_bench) and Redis.
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig } from '@app/config';
import { ManagedOpencodeServer } from '@app/opencode';
import axios, { AxiosInstance } from 'axios';
import { createParser } from 'eventsource-parser';
import { AppModule } from '../apps/api/src/app.module';
import { configureHttp } from '../apps/api/src/http/configure-http';
import { runMigrations } from '@app/migrations';
import { percentile, runPool } from './support/stats';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 25);
// One per lane, so that every workspace is known to OpenCode before the measured runs.
const WARMUP = CONCURRENCY;
const ROUNDS = 4;
const FINAL = new Set(['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);

const promptFor = (i: number) => `Benchmark session ${i}. [[write out-${i}.txt]]result ${i}[[/write]]`; // one file per session

/**
 * The bare peer: what a script would do without the orchestrator. One `/global/event` stream
 * for all sessions; per session POST /session, POST prompt_async, wait for its idle event,
 * read the answer (GET messages).
 * (The synchronous /message route is not usable here: the server drops a request that stays
 * silent for about 10 s, and at concurrency 25 a turn takes longer than that.)
 */
async function bare(server: ManagedOpencodeServer, root: string, count: number, tag: string): Promise<number> {
  const { baseUrl, password } = server.endpoint();
  const auth = password ? { username: 'opencode', password } : undefined;
  const http = axios.create({ baseURL: baseUrl, auth, timeout: 120_000 });
  const [providerID, ...rest] = (server.defaultModel ?? '').split('/');
  const waiters = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  const stream = new AbortController();
  const events = await http.get('/global/event', { responseType: 'stream', signal: stream.signal, timeout: 0 });
  const parser = createParser({
    onEvent: (message) => {
      const event = (JSON.parse(message.data) as { payload?: { type: string; properties: Record<string, unknown> } }).payload;
      const id = event?.properties?.sessionID as string | undefined;
      const waiter = id ? waiters.get(id) : undefined;
      if (!event || !waiter) return;
      if (event.type === 'session.idle') waiter.resolve();
      if (event.type === 'session.error') waiter.reject(new Error(`bare turn failed: ${JSON.stringify(event.properties.error)}`));
    },
  });
  events.data.on('data', (chunk: Buffer) => parser.feed(chunk.toString()));
  events.data.on('error', () => undefined);

  const started = performance.now();
  try {
    await runPool(count, CONCURRENCY, async (i, lane) => {
      const directory = laneWorkspace(root, lane);
      const params = { directory };
      const session = (await http.post('/session', { title: `${tag} ${i}` }, { params })).data as { id: string };
      const finished = new Promise<void>((resolve, reject) => waiters.set(session.id, { resolve, reject }));
      await http.post(
        `/session/${session.id}/prompt_async`,
        { agent: 'build', model: { providerID, modelID: rest.join('/') }, parts: [{ type: 'text', text: promptFor(i) }] },
        { params },
      );
      await withTimeout(Promise.race([finished, pollUntilFinished(http, session.id, params)]), 180_000, `bare session ${i} did not finish`);
      waiters.delete(session.id);
      // The answer, as any script that wants the result reads it (the orchestrator reads it too).
      await http.get(`/session/${session.id}/message`, { params });
    });
    return (performance.now() - started) / 1000;
  } finally {
    stream.abort();
  }
}

interface SessionView {
  id: string;
  status: string;
  queuedAt: string;
  startedAt: string;
  error: { code: string; message: string } | null;
}

/**
 * The orchestrator's client: each lane creates and starts a session and waits for it. One
 * watcher reads the newest sessions every 200 ms for all lanes (what a dashboard does), rather
 * than every lane polling its own session.
 */
async function orchestrated(api: AxiosInstance, root: string, count: number, tag: string) {
  const startToRunningMs: number[] = [];
  const statuses = new Map<string, number>();
  const errors = new Map<string, number>();
  const waiting = new Map<string, (s: SessionView) => void>();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      await sleep(200);
      if (waiting.size === 0) continue;
      const page = (await api.get('/api/v1/sessions', { params: { limit: 2 * CONCURRENCY } })).data as { items: SessionView[] };
      for (const s of page.items) if (FINAL.has(s.status)) waiting.get(s.id)?.(s);
    }
  })();
  const started = performance.now();
  await runPool(count, CONCURRENCY, async (i, lane) => {
    const workspace = laneWorkspace(root, lane);
    const created = (await api.post('/api/v1/sessions', { title: `${tag} ${i}`, prompt: promptFor(i), workspace })).data;
    const finished = new Promise<SessionView>((resolve) => waiting.set(created.id, resolve));
    await api.post(`/api/v1/sessions/${created.id}/start`);
    const s = await withTimeout(finished, 180_000, `session ${created.id} did not finish`);
    waiting.delete(created.id);
    statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
    if (s.error) errors.set(`${s.error.code}: ${s.error.message}`, (errors.get(`${s.error.code}: ${s.error.message}`) ?? 0) + 1);
    startToRunningMs.push(new Date(s.startedAt).getTime() - new Date(s.queuedAt).getTime());
  });
  const seconds = (performance.now() - started) / 1000;
  watching = false;
  await watcher;
  return { seconds, startToRunningMs, statuses, errors };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-lifecycle-'));
  const server = new ManagedOpencodeServer({
    dataDir: join(root, 'opencode'),
    parentEnv: process.env,
    stopGraceMs: 1000,
    logger: quietLogger,
  });
  let app: INestApplication | undefined;
  // Interrupted (Ctrl-C): stop the OpenCode server instead of leaving it running.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void server.stop().finally(() => process.exit(130)));
  }
  try {
    await server.start();
    const { baseUrl, password } = server.endpoint();
    const url = new URL(baseUrl);
    const config = AppConfig.with({
      PORT: '0',
      DB_NAME: 'orchestrator_bench',
      QUEUE_PREFIX: `bench-${process.pid}`,
      OPENCODE_HOST: url.hostname,
      OPENCODE_PORT: url.port,
      OPENCODE_PASSWORD: password ?? '',
      OPENCODE_MODEL: server.defaultModel ?? '',
      MAX_CONCURRENT_SESSIONS: String(CONCURRENCY),
      API_KEY: '',
      LOG_LEVEL: 'error',
    });
    await runMigrations(config);
    app = await NestFactory.create(AppModule.forRoot({ config, withWorker: true }), { logger: ['error'] });
    configureHttp(app, config);
    await app.listen(0, '127.0.0.1');
    const address = app.getHttpServer().address() as { port: number };
    const api = axios.create({ baseURL: `http://127.0.0.1:${address.port}`, timeout: 60_000 });
    const health = await axios.get(`${baseUrl}/global/health`, { auth: password ? { username: 'opencode', password } : undefined });

    console.log(`lifecycle benchmark: ${SESSIONS} sessions, concurrency ${CONCURRENCY}, opencode-ai ${health.data.version}`);
    console.log(`warming up with ${WARMUP} sessions each...`);
    await bare(server, root, WARMUP, 'warm-bare');
    await orchestrated(api, root, WARMUP, 'warm-orch');

    // OpenCode gets slower as it accumulates sessions: the peers take turns in rounds of
    // alternating order, so neither is measured only on the older, slower server.
    console.log(`measuring in ${ROUNDS} rounds of ${SESSIONS / ROUNDS} sessions per peer, alternating...`);
    let bareSeconds = 0;
    const bareCpu = { opencode: 0, self: 0 };
    const orchCpu = { opencode: 0, self: 0 };
    const orch = { seconds: 0, startToRunningMs: [] as number[], statuses: new Map<string, number>(), errors: new Map<string, number>() };
    const measureBare = async (round: number) => {
      const cpu = cpuSnapshot(server.pid);
      bareSeconds += await bare(server, root, SESSIONS / ROUNDS, `bare-${round}`);
      addCpu(bareCpu, cpuSince(cpu, server.pid));
    };
    const measureOrchestrator = async (round: number) => {
      const cpu = cpuSnapshot(server.pid);
      const r = await orchestrated(api, root, SESSIONS / ROUNDS, `orch-${round}`);
      addCpu(orchCpu, cpuSince(cpu, server.pid));
      orch.seconds += r.seconds;
      orch.startToRunningMs.push(...r.startToRunningMs);
      for (const [k, v] of r.statuses) orch.statuses.set(k, (orch.statuses.get(k) ?? 0) + v);
      for (const [k, v] of r.errors) orch.errors.set(k, (orch.errors.get(k) ?? 0) + v);
    };
    for (let round = 0; round < ROUNDS; round++) {
      if (round % 2 === 0) await measureBare(round).then(() => measureOrchestrator(round));
      else await measureOrchestrator(round).then(() => measureBare(round));
    }

    const bareRate = SESSIONS / bareSeconds;
    const orchRate = SESSIONS / orch.seconds;
    const completed = orch.statuses.get('COMPLETED') ?? 0;
    console.log(`bare OpenCode script   : ${bareRate.toFixed(2)} sessions/s (${bareSeconds.toFixed(1)} s)`);
    console.log(
      `orchestrator API+worker: ${orchRate.toFixed(2)} sessions/s (${orch.seconds.toFixed(1)} s), ${completed}/${SESSIONS} COMPLETED`,
    );
    console.log(`ratio orchestrator / bare OpenCode: ${(orchRate / bareRate).toFixed(3)} (goal >= 0.9)`);
    console.log(
      `start-to-RUNNING latency: p50 ${percentile(orch.startToRunningMs, 50).toFixed(0)} ms, p99 ${percentile(orch.startToRunningMs, 99).toFixed(0)} ms`,
    );
    const perSession = (c: { opencode: number; self: number }) =>
      `OpenCode ${((c.opencode / SESSIONS) * 1000).toFixed(0)} ms, this process ${((c.self / SESSIONS) * 1000).toFixed(0)} ms`;
    console.log(`CPU per session: bare run: ${perSession(bareCpu)}; orchestrator run: ${perSession(orchCpu)}`);
    for (const [error, count] of orch.errors) console.log(`  ${count} x ${error}`);
    if (completed !== SESSIONS) process.exitCode = 1;
  } finally {
    await app?.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * One workspace per lane, shared by both peers: OpenCode keeps an instance (about 50-100 MB)
 * per directory it has seen, so a new directory per session would measure its memory growth,
 * not sessions. Real fleets run many sessions on a few repositories.
 */
function laneWorkspace(root: string, lane: number): string {
  const dir = join(root, `lane-${lane}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The event stream can drop events under load: also look at the turn's messages every 2 s. */
async function pollUntilFinished(http: AxiosInstance, sessionId: string, params: object): Promise<void> {
  for (;;) {
    await sleep(2_000);
    const messages = (await http.get(`/session/${sessionId}/message`, { params })).data as Array<{
      info: { role: string; finish?: string; error?: unknown; time: { completed?: number } };
    }>;
    const last = messages[messages.length - 1]?.info;
    if (last?.role === 'assistant' && last.time.completed && (last.error || last.finish !== 'tool-calls')) {
      if (last.error) throw new Error(`bare turn failed: ${JSON.stringify(last.error)}`);
      return;
    }
  }
}

interface CpuSnapshot {
  opencode: number;
  self: NodeJS.CpuUsage;
}

/** CPU seconds of the OpenCode server (from /proc) and of this process (API, worker and clients). */
function cpuSnapshot(pid: number | undefined): CpuSnapshot {
  return { opencode: processCpuSeconds(pid), self: process.cpuUsage() };
}

function cpuSince(start: CpuSnapshot, pid: number | undefined): { opencode: number; self: number } {
  const self = process.cpuUsage(start.self);
  return { opencode: processCpuSeconds(pid) - start.opencode, self: (self.user + self.system) / 1e6 };
}

function processCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

function addCpu(total: { opencode: number; self: number }, more: { opencode: number; self: number }): void {
  total.opencode += more.opencode;
  total.self += more.self;
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(what)), ms)));
  return Promise.race([work, limit]).finally(() => clearTimeout(timer));
}

const quietLogger = { log: () => undefined, warn: (m: string) => console.warn(`[opencode] ${m}`), error: (m: string) => console.error(`[opencode] ${m}`) };

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});

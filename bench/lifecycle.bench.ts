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
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig } from '@app/config';
import { ManagedOpencodeServer } from '@app/opencode';
import axios, { AxiosInstance } from 'axios';
import { AppModule } from '../apps/api/src/app.module';
import { configureHttp } from '../apps/api/src/http/configure-http';
import { runMigrations } from '../migrations/data-source';
import { percentile, runPool } from './support/stats';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 25);
const WARMUP = 10;
const FINAL = new Set(['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED']);

const promptFor = (i: number) => `Benchmark session ${i}. [[write out-${i}.txt]]result ${i}[[/write]]`;

async function bare(server: ManagedOpencodeServer, root: string, count: number): Promise<number> {
  const { baseUrl, password } = server.endpoint();
  const http = axios.create({ baseURL: baseUrl, auth: password ? { username: 'opencode', password } : undefined, timeout: 120_000 });
  const [providerID, ...rest] = (server.defaultModel ?? '').split('/');
  const started = performance.now();
  await runPool(count, CONCURRENCY, async (i) => {
    const directory = join(root, `bare-${i}`);
    mkdirSync(directory);
    const params = { directory };
    const session = (await http.post('/session', { title: `bare ${i}` }, { params })).data as { id: string };
    // The synchronous route holds the request until the turn ends: the simplest, fastest bare client.
    const reply = (
      await http.post(
        `/session/${session.id}/message`,
        { agent: 'build', model: { providerID, modelID: rest.join('/') }, parts: [{ type: 'text', text: promptFor(i) }] },
        { params },
      )
    ).data as { info?: { error?: unknown } };
    if (reply.info?.error) throw new Error(`bare turn failed: ${JSON.stringify(reply.info.error)}`);
  });
  return (performance.now() - started) / 1000;
}

async function orchestrated(api: AxiosInstance, root: string, count: number, tag: string) {
  const startToRunningMs: number[] = [];
  const statuses = new Map<string, number>();
  const started = performance.now();
  await runPool(count, CONCURRENCY, async (i) => {
    const workspace = join(root, `${tag}-${i}`);
    mkdirSync(workspace);
    const created = (await api.post('/api/v1/sessions', { title: `${tag} ${i}`, prompt: promptFor(i), workspace })).data;
    await api.post(`/api/v1/sessions/${created.id}/start`);
    for (;;) {
      const s = (await api.get(`/api/v1/sessions/${created.id}`)).data;
      if (FINAL.has(s.status)) {
        statuses.set(s.status, (statuses.get(s.status) ?? 0) + 1);
        startToRunningMs.push(new Date(s.startedAt).getTime() - new Date(s.queuedAt).getTime());
        return;
      }
      await sleep(50);
    }
  });
  return { seconds: (performance.now() - started) / 1000, startToRunningMs, statuses };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bench-lifecycle-'));
  const server = new ManagedOpencodeServer({ dataDir: join(root, 'opencode'), stopGraceMs: 1000, logger: quietLogger });
  let app: INestApplication | undefined;
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

    console.log(`lifecycle benchmark: ${SESSIONS} sessions, concurrency ${CONCURRENCY}, opencode-ai ${(await axios.get(`${baseUrl}/global/health`, { auth: password ? { username: 'opencode', password } : undefined })).data.version}`);
    await bare(server, root, WARMUP).then(() => orchestrated(api, root, WARMUP, 'warm'));

    const bareSeconds = await bare(server, root, SESSIONS);
    const orch = await orchestrated(api, root, SESSIONS, 'orch');
    const bareRate = SESSIONS / bareSeconds;
    const orchRate = SESSIONS / orch.seconds;
    const completed = orch.statuses.get('COMPLETED') ?? 0;
    console.log(`bare OpenCode script : ${bareRate.toFixed(2)} sessions/s (${bareSeconds.toFixed(1)} s)`);
    console.log(`orchestrator API+worker: ${orchRate.toFixed(2)} sessions/s (${orch.seconds.toFixed(1)} s), ${completed}/${SESSIONS} COMPLETED ${JSON.stringify(Object.fromEntries(orch.statuses))}`);
    console.log(`ratio orchestrator / bare OpenCode: ${(orchRate / bareRate).toFixed(3)} (goal >= 0.9)`);
    console.log(
      `start-to-RUNNING latency: p50 ${percentile(orch.startToRunningMs, 50).toFixed(0)} ms, p99 ${percentile(orch.startToRunningMs, 99).toFixed(0)} ms`,
    );
    if (completed !== SESSIONS) process.exitCode = 1;
  } finally {
    await app?.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

const quietLogger = { log: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };

main().catch((err: Error) => {
  console.error(err.stack ?? err.message);
  process.exit(1);
});

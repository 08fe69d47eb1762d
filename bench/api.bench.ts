/**
 * npm run bench:api — requests per second of the orchestrator's `GET /api/v1/sessions/:id` and
 * `POST /api/v1/sessions`, against a bare NestJS route returning a JSON object of the same size,
 * in one run, with autocannon. Goal: the read at >= 0.7 of the bare route.
 *
 * The real app (API only, no worker: configureHttp's middleware, validation, PostgreSQL on its own
 * database `orchestrator_bench_api`, dropped and migrated each run, the local Redis) and the bare
 * app (same @nestjs/core and platform-express, one controller) listen in this process; autocannon
 * fires from a worker thread of this process (its `workers: 1`), so the load generator has the
 * second core and does not share the servers' event loop. Log level warn on both (no per-request
 * log line; the request-context middleware still runs).
 *
 * Env: BENCH_DURATION (seconds per measurement, 6), BENCH_ROUNDS (3), BENCH_CONNECTIONS (16).
 */
import 'reflect-metadata';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Controller, Get, INestApplication, Module, Param, ParseUUIDPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig } from '@app/config';
import { createRootLogger, NestPinoLogger } from '@app/observability';
import autocannon from 'autocannon';
import { Pool } from 'pg';
import axios from 'axios';
import { AppModule } from '../apps/api/src/app.module';
import { configureHttp } from '../apps/api/src/http/configure-http';
import { runMigrations } from '@app/migrations';
import { dropDatabase } from './support/bench-database';

const DURATION = Number(process.env.BENCH_DURATION ?? 6);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const DB_NAME = 'orchestrator_bench_api';
const LOG_LEVEL = 'warn';
const READ_GOAL = 0.7;

/** The bare peer's answer: a copy of a real session response, so both send the same bytes. */
let bareBody: Record<string, unknown> = {};

@Controller('bare/sessions')
class BareController {
  @Get(':id')
  get(@Param('id', new ParseUUIDPipe()) _id: string): Record<string, unknown> {
    return bareBody;
  }
}

/**
 * A second reference, not the goal's peer: the bare route plus the one PostgreSQL read a session
 * read needs (node-postgres, a prepared statement). The orchestrator's read over this one is what
 * its own code costs beyond the database round trip.
 */
let barePool: Pool | undefined;

@Controller('bare-db/sessions')
class BareDbController {
  @Get(':id')
  async get(@Param('id', new ParseUUIDPipe()) id: string): Promise<Record<string, unknown>> {
    const { rows } = await barePool!.query({ name: 'bare_session', text: 'SELECT * FROM sessions WHERE id = $1 AND deleted_at IS NULL', values: [id] });
    return rows[0];
  }
}

@Module({ controllers: [BareController, BareDbController] })
class BareModule {}

interface Target {
  name: 'read' | 'create' | 'bare' | 'bareDb';
  label: string;
  options: autocannon.Options;
}

interface Round {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function measure(options: autocannon.Options): Promise<Round> {
  return new Promise((resolve, reject) => {
    autocannon({ ...options, connections: CONNECTIONS, pipelining: 1, workers: 1 }, (err, r) => {
      if (err) return reject(err);
      resolve({
        rps: r.requests.total / r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
      });
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const workspace = mkdtempSync(join(tmpdir(), 'bench-api-'));
  const config = AppConfig.with({
    PORT: '0',
    DB_NAME,
    QUEUE_PREFIX: `bench-api-${process.pid}`,
    API_KEY: '',
    LOG_LEVEL,
  });
  let app: INestApplication | undefined;
  let bare: INestApplication | undefined;
  try {
    // A fresh database each run: the create measurement adds tens of thousands of sessions.
    await dropDatabase(config);
    await runMigrations(config);

    // As main.ts does it: the root pino logger at LOG_LEVEL, Nest's lines through it.
    const root = createRootLogger({ level: config.logLevel });
    app = await NestFactory.create(AppModule.forRoot({ config, withWorker: false, logger: root }), { logger: ['error', 'warn'] });
    app.useLogger(app.get(NestPinoLogger));
    configureHttp(app, config);
    await app.listen(0, '127.0.0.1');
    const appUrl = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;

    barePool = new Pool({ host: config.database.host, port: config.database.port, user: config.database.user, password: config.database.password, database: config.database.name, max: 10 });
    bare = await NestFactory.create(BareModule, { logger: ['error', 'warn'] });
    await bare.listen(0, '127.0.0.1');
    const bareUrl = `http://127.0.0.1:${(bare.getHttpServer().address() as AddressInfo).port}`;

    const createBody = JSON.stringify({ title: 'bench', prompt: 'Benchmark session: add a health endpoint with a test.', workspace });
    const created = await axios.post(`${appUrl}/api/v1/sessions`, JSON.parse(createBody));
    const sessionId = created.data.id as string;
    const read = await axios.get(`${appUrl}/api/v1/sessions/${sessionId}`, { responseType: 'text', transformResponse: (x) => x });
    bareBody = JSON.parse(read.data);
    const bareRead = await axios.get(`${bareUrl}/bare/sessions/${sessionId}`, { responseType: 'text', transformResponse: (x) => x });

    const targets: Target[] = [
      { name: 'read', label: 'GET  /api/v1/sessions/:id', options: { url: `${appUrl}/api/v1/sessions/${sessionId}` } },
      {
        name: 'create',
        label: 'POST /api/v1/sessions',
        options: { url: `${appUrl}/api/v1/sessions`, method: 'POST', headers: { 'content-type': 'application/json' }, body: createBody },
      },
      { name: 'bare', label: 'GET  bare NestJS route', options: { url: `${bareUrl}/bare/sessions/${sessionId}` } },
      { name: 'bareDb', label: 'GET  bare NestJS + 1 pg read', options: { url: `${bareUrl}/bare-db/sessions/${sessionId}` } },
    ];

    console.log(
      `api benchmark: autocannon ${require('autocannon/package.json').version} in a worker thread of this process, ` +
        `${CONNECTIONS} connections, pipelining 1, ${DURATION} s per measurement, ${ROUNDS} rounds (order rotated), ` +
        `LOG_LEVEL=${LOG_LEVEL}; Nest ${require('@nestjs/core/package.json').version} on platform-express; node ${process.version}`,
    );
    console.log(`response bodies: session ${Buffer.byteLength(read.data)} bytes, bare ${Buffer.byteLength(bareRead.data)} bytes`);

    console.log('warming up (2 s each)...');
    for (const t of targets) await measure({ ...t.options, duration: 2 });

    const results = new Map<Target['name'], Round[]>(targets.map((t) => [t.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so that no target always runs first (or right after the writes).
      const order = targets.map((_, i) => targets[(i + round) % targets.length]);
      for (const t of order) {
        const r = await measure({ ...t.options, duration: DURATION });
        results.get(t.name)!.push(r);
        console.log(`  round ${round + 1}  ${t.label.padEnd(26)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}`);
      }
    }

    const summary = (name: Target['name']) => {
      const rounds = results.get(name)!;
      return {
        rps: rounds.reduce((s, r) => s + r.rps, 0) / rounds.length,
        p50: median(rounds.map((r) => r.p50)),
        p99: median(rounds.map((r) => r.p99)),
        non2xx: rounds.reduce((s, r) => s + r.non2xx, 0),
        errors: rounds.reduce((s, r) => s + r.errors + r.timeouts, 0),
        perRound: rounds.map((r) => r.rps.toFixed(0)).join(', '),
      };
    };
    console.log('');
    for (const t of targets) {
      const s = summary(t.name);
      console.log(
        `${t.label.padEnd(26)} ${s.rps.toFixed(0).padStart(6)} req/s (rounds ${s.perRound})  p50 ${s.p50} ms  p99 ${s.p99} ms  non-2xx ${s.non2xx}  errors ${s.errors}`,
      );
    }
    const bareRps = summary('bare').rps;
    const readRatio = summary('read').rps / bareRps;
    const createRatio = summary('create').rps / bareRps;
    console.log(`ratio read / bare NestJS:   ${readRatio.toFixed(3)}`);
    console.log(`ratio create / bare NestJS: ${createRatio.toFixed(3)}`);
    console.log(`ratio read / bare NestJS + 1 pg read (the orchestrator's own cost beyond the database): ${(summary('read').rps / summary('bareDb').rps).toFixed(3)}`);
    console.log(`verdict: read at ${readRatio.toFixed(2)} of bare NestJS: ${readRatio >= READ_GOAL ? 'goal met' : 'goal MISSED'} (goal >= ${READ_GOAL})`);
    const failures = targets.reduce((n, t) => n + summary(t.name).non2xx + summary(t.name).errors, 0);
    if (failures > 0) {
      console.log(`${failures} requests failed or answered non-2xx: the figures above are not valid`);
      process.exitCode = 1;
    }
  } finally {
    await app?.close();
    await bare?.close();
    await barePool?.end();
    rmSync(workspace, { recursive: true, force: true });
  }
}

main()
  .catch((err: Error) => {
    console.error(err.stack ?? err.message);
    process.exitCode = 1;
  })
  .finally(() => process.exit());

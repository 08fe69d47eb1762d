import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempWorkspace, testOpencodeClient } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { startPostgresServer, TestPostgresServer } from '../../../test/support/postgres-server';
import { startRedisServer, TestRedisServer } from '../../../test/support/redis-server';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];
/** How long PostgreSQL stays down across the end of a turn. */
const OUTAGE_MS = 60_000;
/** Bounds a request in this file: an answer must come, 503 or not, rather than hang. */
const ANSWER_WITHIN = { response: 15_000, deadline: 20_000 };

/** Pino JSON lines of the app, kept as written. */
function logCapture() {
  const lines: Array<{ msg?: string; level?: unknown }> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

/** The value of one series of a Prometheus text exposition (undefined when absent). */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/**
 * PostgreSQL and Redis go away under a running app (API and worker) of this file, each on a
 * server of its own that the test stops and starts (the machine's shared servers are never
 * touched). A turn OpenCode finishes while PostgreSQL is away is recorded with its real outcome
 * once it is back, the run waiting for it rather than spending its job's retries; meanwhile the
 * API answers 503 DATABASE_UNAVAILABLE with Retry-After, and readiness says why. With Redis away,
 * starting a session answers 503 REDIS_UNAVAILABLE.
 */
describe('PostgreSQL and Redis outages', () => {
  let pg: TestPostgresServer;
  let redis: TestRedisServer;
  let t: TestApp;
  const logs = logCapture();

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgresServer(), startRedisServer()]);
    await pg.migrate();
    t = await createTestApp({ env: { ...pg.env(), ...redis.env() }, logs: logs.stream });
  });
  afterAll(async () => {
    // The app closes cleanly only while its database and Redis answer.
    await pg?.start();
    await redis?.ensureRunning();
    await t?.close();
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
  async function startSession(title: string, prompt: string) {
    const workspace = makeTempWorkspace();
    const created = (await t.http.post('/api/v1/sessions').send({ title, workspace, prompt }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${created.id}/start`).expect(202);
    const running = await waitFor(() => get(created.id), (s) => s.status === 'RUNNING' && s.opencodeSessionId !== null, { what: `${title} running its turn` });
    return { id: created.id as string, workspace, running };
  }

  it('completes a session whose database restarted mid-turn, without sending its prompt twice', async () => {
    const { id, workspace, running } = await startSession('through a restart', '[[slow 5]][[write a.txt]]a[[/write]]');
    await pg.restart(1_000);
    const restartedAt = Date.now();
    expect((await get(id)).status).toBe('RUNNING'); // the restart happened mid-turn

    const done = await waitFor(() => get(id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: 'the session to finish' });
    expect(done.status).toBe('COMPLETED');
    expect(Date.parse(done.finishedAt)).toBeGreaterThan(restartedAt);
    expect(readFileSync(join(workspace, 'a.txt'), 'utf8')).toBe('a');
    const messages = await testOpencodeClient().messages(workspace, running.opencodeSessionId);
    expect(messages.filter((m) => m.info.role === 'user')).toHaveLength(1);
  });

  it(
    'records the outcome of a turn that ended while the database was down for a minute, and answers 503 DATABASE_UNAVAILABLE meanwhile',
    async () => {
      const { id, workspace } = await startSession('through an outage', '[[slow 3]][[write b.txt]]b[[/write]]');
      await pg.halt();
      const haltedAt = Date.now();
      try {
        // The API: 503 with a code, a message and Retry-After, not a raw 500.
        const list = await t.http.get('/api/v1/sessions').timeout(ANSWER_WITHIN);
        expect(list.status).toBe(503);
        expect(list.body).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE', details: { retryable: true } });
        expect(list.body.message).toMatch(/PostgreSQL/);
        expect(Number(list.headers['retry-after'])).toBeGreaterThan(0);
        expect((await t.http.get(`/api/v1/sessions/${id}`).timeout(ANSWER_WITHIN)).body.code).toBe('DATABASE_UNAVAILABLE');

        // The turn ends during the outage: its run waits for the database, and readiness says so.
        const ready = await waitFor(
          async () => t.http.get('/health/ready').timeout(ANSWER_WITHIN),
          (res) => res.body.details?.databaseWaits?.runs === 1,
          { timeoutMs: 90_000, what: 'the run to wait for the database' },
        );
        expect(ready.status).toBe(503);
        expect(ready.body.details.postgres.status).toBe('down');
        expect(ready.body.details.databaseWaits).toMatchObject({ status: 'up', runs: 1, sessions: [id] });
        const waitingMetrics = (await t.http.get('/metrics').timeout(ANSWER_WITHIN)).text;
        expect(sample(waitingMetrics, 'orchestrator_runs_waiting_for_database')).toBe(1);
        expect(readFileSync(join(workspace, 'b.txt'), 'utf8')).toBe('b'); // OpenCode did its work meanwhile

        // Down for OUTAGE_MS in all, and a while after the turn ended whatever the machine's load.
        await sleep(Math.max(5_000, haltedAt + OUTAGE_MS - Date.now()));
      } finally {
        await pg.start(); // also when a check above failed: the next test needs it
      }
      const restartedAt = Date.now();

      const done = await waitFor(async () => (await t.http.get(`/api/v1/sessions/${id}`)).body, (s) => FINAL.includes(s.status), {
        timeoutMs: 30_000,
        what: 'the session to finish once the database is back',
      });
      expect(done.status).toBe('COMPLETED');
      expect(Date.parse(done.finishedAt)).toBeGreaterThanOrEqual(restartedAt - 1_000);
      const events = (await t.http.get(`/api/v1/sessions/${id}/events`).expect(200)).body as Array<{ to: string }>;
      expect(events.map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED']);

      const metrics = (await t.http.get('/metrics').expect(200)).text;
      expect(sample(metrics, 'orchestrator_database_waits_total{outcome="recovered"}')).toBe(1);
      expect(sample(metrics, 'orchestrator_database_waits_total{outcome="gave_up"}')).toBe(0);
      expect(sample(metrics, 'orchestrator_runs_waiting_for_database')).toBe(0);
      const warnings = logs.lines.map((line) => line.msg ?? '').filter((msg) => msg.startsWith(`Session ${id}: `));
      expect(warnings).toEqual(
        expect.arrayContaining([expect.stringContaining('the database cannot be reached'), expect.stringMatching(/the database is back after \d+ s/)]),
      );
      expect((await t.http.get('/health/ready').expect(200)).body.details.databaseWaits).toEqual({ status: 'up', runs: 0 });
    },
    OUTAGE_MS + 150_000,
  );

  it('answers 503 REDIS_UNAVAILABLE at once to a start and to Redis reads while Redis is down, and starts the session once it is back', async () => {
    const workspace = makeTempWorkspace();
    const created = (await t.http.post('/api/v1/sessions').send({ title: 'redis away', workspace, prompt: '[[write c.txt]]c[[/write]]' }).expect(201)).body;
    await redis.stop();

    const refused = await t.http.post(`/api/v1/sessions/${created.id}/start`).timeout(ANSWER_WITHIN);
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ statusCode: 503, code: 'REDIS_UNAVAILABLE', details: { retryable: true } });
    expect(refused.body.message).toMatch(/Redis/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await get(created.id)).status).toBe('PENDING'); // nothing changed; what needs only PostgreSQL still answers
    // Reads of what lives in Redis answer 503 too, rather than wait for Redis in the client's queue.
    for (const path of ['/api/v1/capacity', '/api/v1/servers', '/api/v1/locks']) {
      const res = await t.http.get(path).timeout(ANSWER_WITHIN);
      expect({ path, status: res.status, code: res.body.code }).toEqual({ path, status: 503, code: 'REDIS_UNAVAILABLE' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    }

    await redis.ensureRunning();
    // Accepted as soon as the app's connection is back (its retries are at most 2 s apart): the
    // refused start left nothing behind in Redis (no lock held for it until a TTL runs out).
    const accepted = await waitFor(async () => t.http.post(`/api/v1/sessions/${created.id}/start`), (res) => res.status !== 503, {
      timeoutMs: 15_000,
      what: 'the start to be answered by other than 503 once Redis is back',
    });
    expect(accepted.status).toBe(202);
    const done = await waitFor(() => get(created.id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: 'the session to finish' });
    expect(done.status).toBe('COMPLETED');
  }, 240_000);
});

import { mkdtempSync, readFileSync } from 'node:fs';
import { get as httpGet, IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessShutdown } from '@app/platform';
import { makeTempWorkspace, testOpencodeClient } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';
import { startApiProcess, startWorkerProcess, WorkerProcess } from '../../../test/support/worker-process';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * A planned stop (SIGTERM, a deploy) of a worker process while a turn runs: with a grace long
 * enough the turn finishes there and the process exits 0; with a grace too short the run is handed
 * over, never failed WORKER_LOST: a turn on an external OpenCode server goes on and the next
 * worker follows it, one on the worker's own managed server is aborted and the session runs again
 * as a new attempt. And the API: on SIGTERM it says not ready, refuses new requests, ends its
 * event streams and exits without waiting out the grace.
 */
describe('Graceful stops (SIGTERM)', () => {
  // The file's database and queue prefix are the same for every app and worker process it starts.
  const shared = { WORKER_LEASE_SECONDS: '2' };
  let api: TestApp;
  let rescuer: TestApp | undefined;

  beforeAll(async () => {
    api = await createTestApp({ withWorker: false, env: shared });
  });

  afterAll(async () => {
    await rescuer?.close();
    await api?.close();
  });

  const read = async (id: string) => (await api.http.get(`/api/v1/sessions/${id}`)).body;
  const history = async (id: string) => (await api.http.get(`/api/v1/sessions/${id}/events`)).body as Array<{ to: string; reason: string; attempt: number }>;

  async function startSession(title: string, prompt: string): Promise<{ id: string; workspace: string }> {
    const workspace = makeTempWorkspace();
    const created = await api.http.post('/api/v1/sessions').send({ title, workspace, prompt }).expect(201);
    await api.http.post(`/api/v1/sessions/${created.body.id}/start`).expect(202);
    return { id: created.body.id as string, workspace };
  }
  const running = (id: string) =>
    waitFor(() => read(id), (s) => s.status === 'RUNNING' && s.opencodeSessionId !== null, { timeoutMs: 60_000, what: `session ${id} to run its turn` });
  const finished = (id: string) => waitFor(() => read(id), (s) => FINAL.includes(s.status), { timeoutMs: 60_000, what: `session ${id} to finish` });

  /** Sends SIGTERM and waits for the process to exit; its exit code. */
  async function stop(worker: WorkerProcess): Promise<number | null> {
    await worker.kill('SIGTERM');
    return worker.child.exitCode;
  }

  it('lets a running turn finish within the grace, takes no new job meanwhile, and exits 0', async () => {
    const worker = startWorkerProcess({ ...shared, SHUTDOWN_GRACE_SECONDS: '60', WORKER_METRICS_PORT: '0', LOG_LEVEL: 'log' });
    await worker.ready;
    const { id, workspace } = await startSession('finishes before its worker stops', '[[slow 4]][[write done.txt]]finished[[/write]]');
    await running(id);

    const stopped = stop(worker);
    await waitFor(async () => worker.output(), (out) => out.includes('Draining: no new run jobs'), { what: 'the worker to begin draining' });
    const late = await startSession('queued after the SIGTERM', 'never run by the stopping worker');
    expect(await stopped).toBe(0);

    const done = await read(id);
    expect(done.status).toBe('COMPLETED');
    expect(readFileSync(join(workspace, 'done.txt'), 'utf8')).toBe('finished');
    expect((await history(id)).map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED']);
    // It drained: the session it had finished there, and the one queued meanwhile was not taken.
    expect(await read(late.id)).toMatchObject({ status: 'QUEUED', opencodeSessionId: null, startedAt: null });
    expect(worker.output()).toMatch(/Drained: of the runs under way, 1 finished here, 0 handed over .*, 0 re-queued/);
    expect(worker.output()).toMatch(/Stopped after/);
    await api.http.post(`/api/v1/sessions/${late.id}/cancel`).expect(202);
  }, 120_000);

  it('with a grace too short, hands a turn on an external server to the next worker, which follows it to the end', async () => {
    const worker = startWorkerProcess({ ...shared, SHUTDOWN_GRACE_SECONDS: '1', WORKER_METRICS_PORT: '0', LOG_LEVEL: 'log' });
    await worker.ready;
    const { id, workspace } = await startSession('outlives its worker', '[[slow 8]][[write done.txt]]finished[[/write]]');
    const first = await running(id);
    // A rolling deploy: the next worker is up before the old one stops.
    rescuer = await createTestApp({ withWorker: true, env: shared });

    expect(await stop(worker)).toBe(0);
    expect(worker.output()).toMatch(/Drained: of the runs under way, 0 finished here, 1 handed over .*, 0 re-queued/);

    const done = await finished(id);
    expect({ status: done.status, error: done.error, attempt: done.attempt }).toEqual({ status: 'COMPLETED', error: null, attempt: 1 });
    expect(done.opencodeSessionId).toBe(first.opencodeSessionId);
    expect(readFileSync(join(workspace, 'done.txt'), 'utf8')).toBe('finished');
    expect((await history(id)).map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED']);
    // The next worker followed the same turn: OpenCode saw the prompt once.
    const messages = await testOpencodeClient().messages(workspace, first.opencodeSessionId);
    expect(messages.filter((m) => m.info.role === 'user')).toHaveLength(1);
    await rescuer.close();
    rescuer = undefined;
  }, 90_000);

  it("with a grace too short, aborts a turn on the worker's own managed server and runs the session again as a new attempt (WORKER_SHUTDOWN)", async () => {
    const worker = startWorkerProcess({
      ...shared,
      OPENCODE_HOST: '',
      OPENCODE_PASSWORD: '',
      OPENCODE_MODEL: '',
      OPENCODE_SERVERS: '1',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'graceful-managed-')),
      SHUTDOWN_GRACE_SECONDS: '1',
      WORKER_METRICS_PORT: '0',
      LOG_LEVEL: 'log',
    });
    await worker.ready;
    const { id, workspace } = await startSession('stops with its server', '[[slow 8]][[write done.txt]]finished[[/write]]');
    await running(id);

    expect(await stop(worker)).toBe(0);
    const output = worker.output();
    expect(output).toMatch(/Drained: of the runs under way, 0 finished here, 0 handed over .*, 1 re-queued as a new attempt/);
    // The managed server is stopped only once the run was settled.
    expect(output.indexOf('Stopping 1 managed OpenCode server')).toBeGreaterThan(output.indexOf('Drained:'));
    expect(await read(id)).toMatchObject({ status: 'QUEUED', attempt: 2, error: null });

    rescuer = await createTestApp({ withWorker: true, env: shared }); // on the shared (external) server
    const done = await finished(id);
    expect(done).toMatchObject({ status: 'COMPLETED', attempt: 2 });
    expect(readFileSync(join(workspace, 'done.txt'), 'utf8')).toBe('finished');
    const events = await history(id);
    expect(events.map((e) => [e.to, e.attempt])).toEqual([
      ['PENDING', 1],
      ['QUEUED', 1],
      ['RUNNING', 1],
      ['QUEUED', 2],
      ['RUNNING', 2],
      ['COMPLETED', 2],
    ]);
    expect(events[3].reason).toMatch(/^WORKER_SHUTDOWN: /);
    expect(events.some((e) => /WORKER_LOST/.test(e.reason))).toBe(false);
    await rescuer.close();
    rescuer = undefined;
  }, 180_000);

  it('API: while it drains, says not ready and refuses new requests, answering the probes', async () => {
    const draining = await createTestApp({ withWorker: false, env: shared });
    const shutdown = draining.app.get(ProcessShutdown);
    await draining.http.get('/health/ready').expect(200);
    // Settled at once (nothing in flight): the process is still draining (the grace runs on), as while a worker in it finishes its runs.
    await shutdown.drain(60_000);
    expect(shutdown.graceOver.aborted).toBe(false);

    const ready = await draining.http.get('/health/ready').expect(503);
    expect(ready.body.details.shutdown).toEqual({ status: 'down', message: expect.stringContaining('stopping') });
    expect(ready.headers.connection).toBe('close');
    await draining.http.get('/health/live').expect(200);
    const refused = await draining.http.get('/api/v1/sessions').expect(503);
    expect(refused.body).toMatchObject({ statusCode: 503, code: 'SHUTTING_DOWN', details: { retryable: true } });
    expect(refused.headers).toMatchObject({ connection: 'close', 'retry-after': '1' });
    await draining.close();
  });

  it('API process: on SIGTERM ends its event streams, takes no new connection, and exits 0 without waiting out the grace', async () => {
    const { id } = await startSession('watched while the API stops', 'nobody runs this one');
    const apiProcess = startApiProcess({ ...shared, SHUTDOWN_GRACE_SECONDS: '600', LOG_LEVEL: 'log' });
    await apiProcess.ready;
    const url = apiProcess.url();
    const stream = await new Promise<IncomingMessage>((resolve, reject) => httpGet(`${url}/api/v1/sessions/${id}/stream`, resolve).on('error', reject));
    expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
    let received = '';
    stream.on('data', (chunk: Buffer) => (received += chunk.toString()));
    const ended = new Promise<void>((resolve) => stream.once('close', () => resolve()));
    await waitFor(async () => received, (text) => text.includes('event: snapshot'), { what: 'the stream to start' });

    const stopped = stop(apiProcess);
    await ended; // the stream does not hold the stop: the grace is 10 minutes
    // A new connection (not one kept alive by Node's agent).
    const refused = await new Promise<string>((resolve) =>
      httpGet(`${url}/health/live`, { agent: false }, () => resolve('answered')).on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error')),
    );
    expect(refused).toBe('ECONNREFUSED');
    expect(await stopped).toBe(0);
    expect(apiProcess.output()).toMatch(/SIGTERM: stopping/);
    expect(apiProcess.output()).toMatch(/Stopped after/);
    await api.http.post(`/api/v1/sessions/${id}/cancel`).expect(202);
  }, 120_000);
});

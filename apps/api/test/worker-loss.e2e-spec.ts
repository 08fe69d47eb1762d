import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace, testOpencodeClient } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';
import { startWorkerProcess, WorkerProcess } from '../../../test/support/worker-process';

/**
 * A worker process is killed with SIGKILL in the middle of a turn. Another worker notices the
 * stalled job after the lease and resumes the session from the OpenCode session's state: the
 * prompt is not sent again and the session still completes.
 */
describe('A worker killed mid-run', () => {
  // The file's database and queue prefix are the same for every app and worker process it starts.
  const shared = { WORKER_LEASE_SECONDS: '2' };
  let api: TestApp;
  let doomed: WorkerProcess;
  let rescuer: TestApp | undefined;

  beforeAll(async () => {
    api = await createTestApp({ withWorker: false, env: shared });
    doomed = startWorkerProcess({ ...shared, LOG_LEVEL: 'log' }); // readiness is read from its log
    await doomed.ready;
  });

  afterAll(async () => {
    await doomed?.kill();
    await rescuer?.close();
    await api?.close();
  });

  it('is resumed by another worker and completes without re-sending the prompt', async () => {
    const workspace = makeTempWorkspace();
    const created = await api.http
      .post('/api/v1/sessions')
      .send({ title: 'survives its worker', workspace, prompt: '[[slow 6]][[write done.txt]]finished[[/write]]' })
      .expect(201);
    const id = created.body.id as string;
    await api.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    const running = await waitFor(
      async () => (await api.http.get(`/api/v1/sessions/${id}`)).body,
      (s) => s.status === 'RUNNING' && s.opencodeSessionId !== null,
      { what: 'the first worker to run the turn' },
    );

    await doomed.kill('SIGKILL');
    const killedAt = Date.now();
    rescuer = await createTestApp({ withWorker: true, env: shared });

    const done = await waitFor(
      async () => (await api.http.get(`/api/v1/sessions/${id}`)).body,
      (s) => ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'].includes(s.status),
      { timeoutMs: 60_000, what: 'the rescued session to finish' },
    );
    expect(done.status).toBe('COMPLETED');
    expect(Date.parse(done.finishedAt)).toBeGreaterThan(killedAt); // killed mid-turn, finished by the rescuer
    expect(done.opencodeSessionId).toBe(running.opencodeSessionId);
    expect(readFileSync(join(workspace, 'done.txt'), 'utf8')).toBe('finished');
    const events = (await api.http.get(`/api/v1/sessions/${id}/events`)).body as Array<{ to: string }>;
    expect(events.map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED']);
    // The rescuer followed the first worker's turn: OpenCode saw the prompt once.
    const messages = await testOpencodeClient().messages(workspace, running.opencodeSessionId);
    expect(messages.filter((m) => m.info.role === 'user')).toHaveLength(1);
  });
});

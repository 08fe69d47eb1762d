import { AppConfig } from '@app/config';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { SessionRecoveryService } from './session-recovery.service';
import { FakeQueue, InMemoryHeartbeat, InMemorySessionRepository } from '@app/session/testing';

describe('SessionRecoveryService', () => {
  const config = AppConfig.with({ WORKER_LEASE_SECONDS: '1' });
  let repo: InMemorySessionRepository;
  let queue: FakeQueue;
  let recovery: SessionRecoveryService;
  let heartbeat: InMemoryHeartbeat;
  const later = () => new Date(Date.now() + 5_000);

  async function sessionIn(status: SessionStatus.QUEUED | SessionStatus.RUNNING, cancelRequested = false) {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60 });
    await repo.insert(s);
    s.queue();
    if (status === SessionStatus.RUNNING) s.markRunning();
    if (cancelRequested) s.requestCancel();
    await repo.update(s);
    return s;
  }

  beforeEach(() => {
    repo = new InMemorySessionRepository();
    queue = new FakeQueue();
    heartbeat = new InMemoryHeartbeat();
    recovery = new SessionRecoveryService(repo, queue, heartbeat, config);
  });

  it('enqueues again a QUEUED session whose job was lost', async () => {
    const s = await sessionIn(SessionStatus.QUEUED);
    const report = await recovery.sweep(later());
    expect(report.requeued).toEqual([s.id]);
    expect(await queue.state({ sessionId: s.id, attempt: 1 })).toBe('waiting');
  });

  it('fails with WORKER_LOST a RUNNING session whose job is gone', async () => {
    const s = await sessionIn(SessionStatus.RUNNING);
    queue.jobs.set(`${s.id}.1`, 'failed');
    const report = await recovery.sweep(later());
    expect(report.failed).toEqual([s.id]);
    const after = (await repo.findById(s.id))!.snapshot();
    expect(after.status).toBe(SessionStatus.FAILED);
    expect(after.error).toMatchObject({ code: 'WORKER_LOST', message: expect.stringContaining('run job failed') });
  });

  it('leaves a RUNNING session alone while its worker beats, even when the queue lost its job', async () => {
    const s = await sessionIn(SessionStatus.RUNNING);
    await heartbeat.beat([s.id], 60_000);
    expect(await recovery.sweep(later())).toEqual({ requeued: [], failed: [] });
    expect((await repo.findById(s.id))!.status).toBe(SessionStatus.RUNNING);
  });

  it('records CANCELLED when the lost session had been asked to cancel', async () => {
    const s = await sessionIn(SessionStatus.RUNNING, true);
    await recovery.sweep(later());
    expect((await repo.findById(s.id))!.status).toBe(SessionStatus.CANCELLED);
  });

  it('leaves alone sessions whose job is alive, and recent ones', async () => {
    const alive = await sessionIn(SessionStatus.RUNNING);
    queue.jobs.set(`${alive.id}.1`, 'active');
    const fresh = await sessionIn(SessionStatus.QUEUED);
    const report = await recovery.sweep(new Date()); // nothing is older than the grace period yet
    expect(report).toEqual({ requeued: [], failed: [] });
    const late = await recovery.sweep(later());
    expect(late).toEqual({ requeued: [fresh.id], failed: [] });
    expect((await repo.findById(alive.id))!.status).toBe(SessionStatus.RUNNING);
  });
});

import { AppConfig } from '@app/config';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { SessionRecoveryService, SWEEP_PAGE } from './session-recovery.service';
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

  it('resumes, ahead of the backlog, a RUNNING session whose job is gone or failed, rather than failing it unasked', async () => {
    // The resumed run asks OpenCode: it follows a turn still running, records a finished one, and
    // fails WORKER_LOST only a turn OpenCode lost (SessionExecutionService's resume).
    const failed = await sessionIn(SessionStatus.RUNNING);
    queue.jobs.set(`${failed.id}.1`, 'failed');
    const missing = await sessionIn(SessionStatus.RUNNING);
    const report = await recovery.sweep(later());
    // Both were last changed in the same millisecond: their order is the ids', not creation's.
    const byId = [failed.id, missing.id].sort();
    expect({ ...report, resumed: [...report.resumed].sort() }).toEqual({ requeued: [], resumed: byId });
    expect([...queue.ahead].sort((a, b) => a.sessionId.localeCompare(b.sessionId))).toEqual(byId.map((sessionId) => ({ sessionId, attempt: 1 })));
    expect((await repo.findById(failed.id))!.status).toBe(SessionStatus.RUNNING);
    expect(await recovery.sweep(later())).toEqual({ requeued: [], resumed: [] }); // their jobs live again
  });

  it('fails WORKER_LOST (CANCELLED when a cancel was asked) a RUNNING attempt whose job failed for good', async () => {
    const lost = await sessionIn(SessionStatus.RUNNING);
    const cancelled = await sessionIn(SessionStatus.RUNNING, true);
    expect(await recovery.failLostRun(lost.id, 1, 'failed: job stalled more than allowable limit')).toBe(true);
    expect(await recovery.failLostRun(cancelled.id, 1, 'failed')).toBe(true);
    expect((await repo.findById(lost.id))!.snapshot().error).toMatchObject({ code: 'WORKER_LOST', message: expect.stringContaining('stalled') });
    expect((await repo.findById(cancelled.id))!.status).toBe(SessionStatus.CANCELLED);
  });

  it('leaves a RUNNING session alone while its worker beats, even when the queue lost its job', async () => {
    const s = await sessionIn(SessionStatus.RUNNING);
    await heartbeat.beat([s.id], 60_000);
    expect(await recovery.sweep(later())).toEqual({ requeued: [], resumed: [] });
    expect(await recovery.failLostRun(s.id, 1, 'failed')).toBe(false);
    expect((await repo.findById(s.id))!.status).toBe(SessionStatus.RUNNING);
  });

  it('leaves alone sessions whose job is alive or delayed (waiting for capacity or its workspace), and recent ones', async () => {
    const alive = await sessionIn(SessionStatus.RUNNING);
    queue.jobs.set(`${alive.id}.1`, 'active');
    const waiting = await sessionIn(SessionStatus.QUEUED);
    queue.jobs.set(`${waiting.id}.1`, 'delayed');
    const fresh = await sessionIn(SessionStatus.QUEUED);
    const report = await recovery.sweep(new Date()); // nothing is older than the grace period yet
    expect(report).toEqual({ requeued: [], resumed: [] });
    const late = await recovery.sweep(later());
    expect(late).toEqual({ requeued: [fresh.id], resumed: [] });
    expect((await repo.findById(alive.id))!.status).toBe(SessionStatus.RUNNING);
  });

  it('finds a lost RUNNING session in one pass behind a QUEUED backlog bigger than a page, and goes through the backlog page by page', async () => {
    const backlog: Session[] = [];
    for (let i = 0; i < SWEEP_PAGE + 50; i++) {
      const s = await sessionIn(SessionStatus.QUEUED);
      queue.jobs.set(`${s.id}.1`, 'waiting');
      backlog.push(s);
    }
    // In the sweep's order: last change, then id (many rows share a millisecond here).
    const key = (x: Session) => `${x.snapshot().updatedAt.toISOString()}|${x.id}`;
    backlog.sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const lostQueued = backlog[SWEEP_PAGE + 10]; // beyond the first page of the oldest
    queue.jobs.delete(`${lostQueued.id}.1`);
    const lostRunning = await sessionIn(SessionStatus.RUNNING); // the newest row of all
    const first = await recovery.sweep(later());
    expect(first.resumed).toEqual([lostRunning.id]);
    expect(first.requeued).toEqual([]);
    // The next pass goes on after the first page of the backlog.
    const second = await recovery.sweep(later());
    expect(second).toEqual({ requeued: [lostQueued.id], resumed: [] });
    // Then from the oldest again.
    queue.jobs.delete(`${backlog[0].id}.1`);
    expect(await recovery.sweep(later())).toEqual({ requeued: [backlog[0].id], resumed: [] });
  });
});

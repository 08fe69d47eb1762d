import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { AcquireOptions, Lease, LockError, LockPort } from '@app/locking';
import { SessionStatus } from '../domain/session-status';
import { SessionErrorCode } from '../domain/session.errors';
import { SessionSignalsPort } from './ports/session-signals.port';
import { SessionLifecycleService } from './session-lifecycle.service';
import { FakeQueue, InMemorySessionRepository } from './testing/fakes';

class InProcessLocks implements LockPort {
  held = new Set<string>();
  async acquire(resource: string, options: AcquireOptions): Promise<Lease> {
    if (this.held.has(resource)) throw LockError.timeout(resource, options.waitTimeoutMs);
    this.held.add(resource);
    return { resource, owner: options.owner, token: resource };
  }
  async release(lease: Lease): Promise<boolean> {
    return this.held.delete(lease.resource);
  }
}

class RecordingSignals implements SessionSignalsPort {
  cancels: string[] = [];
  async requestCancel(id: string) {
    this.cancels.push(id);
  }
  async onCancelRequested() {
    return async () => undefined;
  }
}

describe('SessionLifecycleService', () => {
  const workspace = mkdtempSync(join(tmpdir(), 'lifecycle-spec-'));
  const config = AppConfig.with({ SESSION_TIMEOUT_SECONDS: '1234' });
  let repo: InMemorySessionRepository;
  let queue: FakeQueue;
  let signals: RecordingSignals;
  let locks: InProcessLocks;
  let service: SessionLifecycleService;

  beforeEach(() => {
    repo = new InMemorySessionRepository();
    queue = new FakeQueue();
    signals = new RecordingSignals();
    locks = new InProcessLocks();
    service = new SessionLifecycleService(repo, queue, signals, locks, config);
  });

  it('creates a PENDING session with the defaults', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    expect(s.snapshot()).toMatchObject({ status: SessionStatus.PENDING, agent: 'build', timeoutSeconds: 1234, attempt: 1 });
  });

  it.each([
    ['relative', 'must be an absolute path'],
    ['/no/such/dir/anywhere', 'does not exist'],
    [__filename, 'is not a directory'],
  ])('refuses workspace %s', async (bad, why) => {
    await expect(service.create({ title: 't', prompt: 'p', workspace: bad })).rejects.toMatchObject({
      code: SessionErrorCode.WORKSPACE_INVALID,
      message: expect.stringContaining(why),
    });
  });

  it('start queues one job and releases the lock', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    await service.start(s.id);
    expect(queue.enqueued).toEqual([{ sessionId: s.id, attempt: 1 }]);
    expect(locks.held.size).toBe(0);
    await expect(service.start(s.id)).rejects.toMatchObject({ code: SessionErrorCode.INVALID_TRANSITION });
    expect(locks.held.size).toBe(0);
  });

  it('start refuses while another command holds the session lock (LOCK_TIMEOUT, retryable)', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    locks.held.add(`session:${s.id}`);
    await expect(service.start(s.id)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT', retryable: true });
    expect(queue.enqueued).toEqual([]);
  });

  it('cancel of a RUNNING session marks it and signals its worker; of a queued one cancels and drops the job', async () => {
    const running = await service.create({ title: 't', prompt: 'p', workspace });
    await service.start(running.id);
    const row = (await repo.findById(running.id))!;
    row.markRunning();
    await repo.update(row);
    const asked = await service.cancel(running.id);
    expect(asked.status).toBe(SessionStatus.RUNNING);
    expect(asked.cancelRequested).toBe(true);
    expect(signals.cancels).toEqual([running.id]);

    const queued = await service.create({ title: 't', prompt: 'p', workspace });
    await service.start(queued.id);
    const cancelled = await service.cancel(queued.id);
    expect(cancelled.status).toBe(SessionStatus.CANCELLED);
    expect(await queue.state({ sessionId: queued.id, attempt: 1 })).toBe('missing');
  });

  it('cancel decides again when a worker claimed the session meanwhile (no 409 for the user)', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    await service.start(s.id);
    const update = repo.update.bind(repo);
    let raced = false;
    jest.spyOn(repo, 'update').mockImplementation(async (session) => {
      if (!raced) {
        raced = true; // the worker's claim lands between our read and our write
        const claimed = (await repo.findById(s.id))!;
        claimed.markRunning();
        await update(claimed);
      }
      return update(session);
    });
    const cancelled = await service.cancel(s.id);
    expect(cancelled.status).toBe(SessionStatus.RUNNING);
    expect(cancelled.cancelRequested).toBe(true);
    expect(signals.cancels).toEqual([s.id]);
  });

  it('edit checks the version the caller read', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    await service.edit(s.id, 1, { title: 'v2' });
    await expect(service.edit(s.id, 1, { title: 'stale' })).rejects.toMatchObject({
      code: SessionErrorCode.VERSION_CONFLICT,
    });
  });

  it('unknown sessions are SESSION_NOT_FOUND for every command', async () => {
    const id = '6f1c1d1e-9c52-4c59-9b0e-7d1c2f1a3b4c';
    for (const command of [() => service.get(id), () => service.start(id), () => service.cancel(id), () => service.delete(id)]) {
      await expect(command()).rejects.toMatchObject({ code: SessionErrorCode.SESSION_NOT_FOUND });
    }
  });
});

import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { SessionStatus } from '../domain/session-status';
import { WorkspaceErrorCode } from '@app/workspace';
import { SessionErrorCode } from '../domain/session.errors';
import { SessionSignalsPort } from './ports/session-signals.port';
import { SESSION_LOCK_WAIT_MS, SessionLifecycleService } from './session-lifecycle.service';
import { SessionWorktreeService } from './session-worktree.service';
import { FakeAgentDirectory, FakeQueue, InMemorySessionRepository, REVIEWER_CHOICE } from '@app/session/testing';
import { makeTempWorkspace } from '@app/testing';

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
  const workspace = makeTempWorkspace();
  const config = AppConfig.with({ SESSION_TIMEOUT_SECONDS: '1234' });
  let repo: InMemorySessionRepository;
  let queue: FakeQueue;
  let signals: RecordingSignals;
  let locks: InMemoryLocks;
  let agents: FakeAgentDirectory;
  let service: SessionLifecycleService;

  beforeEach(() => {
    repo = new InMemorySessionRepository();
    queue = new FakeQueue();
    signals = new RecordingSignals();
    locks = new InMemoryLocks();
    agents = new FakeAgentDirectory([REVIEWER_CHOICE]);
    service = new SessionLifecycleService(repo, queue, signals, locks, config, agents, testWorkspaces(), new SessionWorktreeService(repo, testGit(), testWorkspaces(), locks, config));
  });

  it('creates a PENDING session with the defaults', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    expect(s.snapshot()).toMatchObject({ status: SessionStatus.PENDING, opencodeAgent: 'build', timeoutSeconds: 1234, attempt: 1 });
  });

  it.each([
    ['relative', 'must be an absolute path'],
    ['/no/such/dir/anywhere', 'does not exist'],
    [__filename, 'is not a directory'],
  ])('refuses workspace %s', async (bad, why) => {
    await expect(service.create({ title: 't', prompt: 'p', workspace: bad })).rejects.toMatchObject({
      code: WorkspaceErrorCode.WORKSPACE_INVALID,
      message: expect.stringContaining(why),
    });
  });

  describe('agent assignment', () => {
    it('routes by role and snapshots the binding: OpenCode agent, system, tools, and why', async () => {
      const s = await service.create({ title: 't', prompt: 'p', workspace, role: 'REVIEWER', skills: ['security'], complexity: 7 });
      expect(agents.requests).toEqual([{ agentId: undefined, role: 'REVIEWER', skills: ['security'], complexity: 7 }]);
      expect(s.snapshot()).toMatchObject({
        opencodeAgent: 'plan',
        model: null,
        agentId: REVIEWER_CHOICE.agentId,
        assignment: {
          agentName: 'reviewer',
          role: 'REVIEWER',
          systemInstructions: REVIEWER_CHOICE.systemInstructions,
          disabledTools: ['bash', 'edit', 'write'],
          readOnly: true,
          permissions: { webfetch: 'deny' },
          routing: { requestedRole: 'REVIEWER', skills: ['security'], complexity: 7, score: 0.5 },
          reviewOf: null,
        },
      });
    });

    it('takes a named agent (no routing score), and an explicit model wins over the binding', async () => {
      const s = await service.create({ title: 't', prompt: 'p', workspace, agentId: REVIEWER_CHOICE.agentId, model: 'p/m' });
      expect(s.snapshot()).toMatchObject({ model: 'p/m', assignment: { routing: { requestedRole: null, complexity: 5, score: null } } });
    });

    it('a review of another session goes to a REVIEWER and remembers what it reviews', async () => {
      const reviewed = await service.create({ title: 't', prompt: 'p', workspace });
      const review = await service.create({ title: 'review', prompt: 'p', workspace, reviewOf: reviewed.id });
      expect(review.snapshot().assignment).toMatchObject({ role: 'REVIEWER', reviewOf: reviewed.id });
      await expect(service.create({ title: 'r', prompt: 'p', workspace, reviewOf: '00000000-0000-4000-8000-000000000009' })).rejects.toMatchObject({
        code: SessionErrorCode.SESSION_NOT_FOUND,
      });
    });

    it('refuses two different choices with AGENT_CHOICE_CONFLICT, and leaves plain sessions alone', async () => {
      await expect(service.create({ title: 't', prompt: 'p', workspace, agentId: REVIEWER_CHOICE.agentId, role: 'REVIEWER' })).rejects.toMatchObject({
        code: SessionErrorCode.AGENT_CHOICE_CONFLICT,
      });
      await expect(service.create({ title: 't', prompt: 'p', workspace, role: 'REVIEWER', agent: 'build' })).rejects.toMatchObject({
        code: SessionErrorCode.AGENT_CHOICE_CONFLICT,
      });
      const plain = await service.create({ title: 't', prompt: 'p', workspace, agent: 'build' });
      expect(plain.snapshot()).toMatchObject({ opencodeAgent: 'build', agentId: null, assignment: null });
      expect(agents.requests).toEqual([]);
    });
  });

  it('start queues one job and releases the lock', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    await service.start(s.id);
    expect(queue.enqueued).toEqual([{ sessionId: s.id, attempt: 1 }]);
    expect(locks.holders.size).toBe(0);
    await expect(service.start(s.id)).rejects.toMatchObject({ code: SessionErrorCode.INVALID_TRANSITION });
    expect(locks.holders.size).toBe(0);
  });

  it('holds the session lock as this API process on this host, one owner per command', async () => {
    const onHostA = new SessionLifecycleService(repo, queue, signals, locks, config, agents, testWorkspaces(undefined, 'host-a:42'), new SessionWorktreeService(repo, testGit(), testWorkspaces(), locks, config));
    const acquire = jest.spyOn(locks, 'acquire');
    const s = await onHostA.create({ title: 't', prompt: 'p', workspace });
    await onHostA.start(s.id);
    await onHostA.cancel(s.id);
    const owners = acquire.mock.calls.map(([resource, options]) => [resource, options.owner]);
    expect(owners).toEqual([
      [`session:${s.id}`, expect.stringMatching(/^api:host-a:42:[0-9a-f-]{36}$/)],
      [`session:${s.id}`, expect.stringMatching(/^api:host-a:42:[0-9a-f-]{36}$/)],
    ]);
    expect(owners[0][1]).not.toBe(owners[1][1]);
  });

  it('start refuses while another command holds the session lock (LOCK_TIMEOUT, retryable)', async () => {
    const s = await service.create({ title: 't', prompt: 'p', workspace });
    await locks.acquire(`session:${s.id}`, { owner: 'someone else', ttlMs: 60_000, waitTimeoutMs: 0 });
    jest.useFakeTimers();
    try {
      const refused = expect(service.start(s.id)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT', retryable: true });
      await jest.advanceTimersByTimeAsync(SESSION_LOCK_WAIT_MS);
      await refused;
    } finally {
      jest.useRealTimers();
    }
    expect(queue.enqueued).toEqual([]);
    expect((await locks.list())[0]).toMatchObject({ holder: { owner: 'someone else' }, waiters: [] });
  });

  it('cancel of a RUNNING session marks it and signals its worker; of a queued one cancels, drops the job and signals a waiting worker', async () => {
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
    // A worker waiting for the queued session's workspace is told to stop waiting.
    expect(signals.cancels).toEqual([running.id, queued.id]);
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

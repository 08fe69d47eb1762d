import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { CodingTurnRef, CodingTurnRequest, CodingTurnsPort, CodingTurnOutcome, RunTurnOptions } from './ports/coding-turns.port';
import { SessionEventsPort, SessionLiveEvent } from './ports/session-events.port';
import { SessionTransitionPublisher } from './session-transition-publisher';
import { RunJobState, SessionQueuePort, SessionRunJob } from './ports/session-queue.port';
import { SessionRepositoryPort } from './ports/session.repository.port';
import { RunWatcher, WATCH_INTERVAL_MS } from './run-watcher';
import { FAILOVER_LAST_ATTEMPT, RunEnd, SessionExecutionService } from './session-execution.service';
import { workspaceLockResource } from '@app/workspace';
import { LockError } from '@app/locking';
import { WorkspaceLock } from './workplace/workspace-lock';
import { slotLockResource, WorktreeSlots } from './workplace/worktree-slots';
import {
  FakeAgentDirectory,
  FakeQueue,
  InMemoryHeartbeat,
  InMemorySessionRepository,
  outcome,
  REVIEWER_CHOICE,
  ScriptedCodingTurns,
  queuedSession,
  untilAborted,
} from '@app/session/testing';
import { git, makeTempWorkspace } from '@app/testing';
import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newSessionWorktree } from '../domain/session-worktree';

describe('SessionExecutionService', () => {
  const workspace = makeTempWorkspace();
  const workspaces = testWorkspaces();
  let repo: InMemorySessionRepository;
  let heartbeat: InMemoryHeartbeat;
  let locks: InMemoryLocks;
  let agents: FakeAgentDirectory;
  const config = AppConfig.with({});

  type Worker = { run: (job: SessionRunJob) => Promise<void>; runEnd: (job: SessionRunJob) => Promise<RunEnd>; watcher: RunWatcher };
  /** One worker process: the use case with its own run watcher. */
  function worker(turns: CodingTurnsPort, options: { repository?: SessionRepositoryPort; events?: SessionEventsPort; queue?: SessionQueuePort } = {}): Worker {
    const repository = options.repository ?? repo;
    const watcher = new RunWatcher(repository, heartbeat);
    const workspaceLock = new WorkspaceLock(locks, workspaces, config);
    const slots = new WorktreeSlots(locks, testGit(), workspaces, config);
    const service = new SessionExecutionService(repository, turns, watcher, workspaceLock, slots, config, agents, workspaces, options.events, null, options.queue ?? null);
    return { run: async (j) => void (await service.run(j)), runEnd: (j) => service.run(j), watcher };
  }

  const queued = (timeoutSeconds = 60) => queuedSession(repo, workspace, timeoutSeconds);
  /** Waits until a worker stored the session's OpenCode turn (and, given the service, follows it). */
  async function turnAttached(s: Session, service?: Worker): Promise<void> {
    const following = async () =>
      (await stored(s)).opencodeSessionId !== null && (!service || service.watcher.activeSessionIds.includes(s.id));
    for (let i = 0; i < 1000 && !(await following()); i++) await new Promise((r) => setTimeout(r, 5));
  }

  /** A worker that claims the session, opens its turn and then stops responding. */
  async function startAndLoseWorker(s: Session) {
    const service = worker(new ScriptedCodingTurns(untilAborted));
    const run = service.run(job(s));
    await turnAttached(s, service);
    return {
      end: async () => {
        service.watcher.onCancelRequested(s.id);
        await run;
      },
    };
  }
  const job = (s: Session) => ({ sessionId: s.id, attempt: s.attempt });
  async function waitUntil(check: () => Promise<boolean>): Promise<void> {
    for (let i = 0; i < 1000 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
  }
  const stored = async (s: Session) => (await repo.findById(s.id, { includeDeleted: true }))!.snapshot();

  beforeEach(() => {
    repo = new InMemorySessionRepository();
    heartbeat = new InMemoryHeartbeat();
    locks = new InMemoryLocks();
    agents = new FakeAgentDirectory();
  });

  it('runs a queued session to COMPLETED with the turn attached before the prompt', async () => {
    const s = await queued();
    const agent = new ScriptedCodingTurns(async () => {
      expect((await stored(s)).opencodeSessionId).toBe('ses_1'); // persisted before runTurn
      return outcome('completed', { summary: 'done', filesChanged: ['a.ts'] });
    });
    await worker(agent).run(job(s));
    expect(await stored(s)).toMatchObject({
      status: SessionStatus.COMPLETED,
      result: { summary: 'done', filesChanged: ['a.ts'] },
      opencodeSessionId: 'ses_1',
      opencodeMessageId: 'msg_1',
    });
    expect(agent.runs[0].resume).toBe(false);
  });

  it('is idempotent: a job that runs again for a finished session does nothing', async () => {
    const s = await queued();
    const agent = new ScriptedCodingTurns(async () => outcome('completed'));
    const service = worker(agent);
    await service.run(job(s));
    await service.run(job(s));
    expect(agent.runs).toHaveLength(1);
    expect((await repo.events(s.id)).filter((e) => e.to === SessionStatus.RUNNING)).toHaveLength(1);
  });

  it('ignores a job of a superseded attempt or a deleted session', async () => {
    const s = await queued();
    const agent = new ScriptedCodingTurns(async () => outcome('completed'));
    await worker(agent).run({ sessionId: s.id, attempt: 7 });
    await worker(agent).run({ sessionId: '00000000-0000-4000-8000-000000000000', attempt: 1 });
    expect(agent.runs).toHaveLength(0);
    expect((await stored(s)).status).toBe(SessionStatus.QUEUED);
  });

  it('resumes a RUNNING session whose worker was lost, without opening a new turn', async () => {
    const s = await queued();
    const lostWorker = await startAndLoseWorker(s);
    expect((await stored(s)).status).toBe(SessionStatus.RUNNING);

    const second = new ScriptedCodingTurns(async (_signal, resume) => outcome(resume ? 'completed' : 'failed'));
    await worker(second).run(job(s));
    expect(second.opened).toBe(0);
    expect(second.runs[0]).toMatchObject({ resume: true, ref: { opencodeSessionId: 'ses_1', messageId: 'msg_1' } });
    expect((await stored(s)).status).toBe(SessionStatus.COMPLETED);
    await lostWorker.end();
    expect((await stored(s)).status).toBe(SessionStatus.COMPLETED); // the late ex-worker changes nothing
  });

  it('fails with WORKER_LOST when a resumed turn cannot be found on the server', async () => {
    const s = await queued();
    const lostWorker = await startAndLoseWorker(s);
    const lost = new ScriptedCodingTurns(async () =>
      outcome('lost', { error: { code: 'OPENCODE_SESSION_LOST', message: 'unknown session ses_1' } }),
    );
    await worker(lost).run(job(s));
    const after = await stored(s);
    expect(after.status).toBe(SessionStatus.FAILED);
    expect(after.error?.code).toBe('WORKER_LOST');
    expect(after.error?.message).toContain('unknown session ses_1');
    await lostWorker.end();
  });

  describe('failover: a turn lost with its OpenCode server', () => {
    class RecordingQueue implements SessionQueuePort {
      readonly jobs: SessionRunJob[] = [];
      async enqueue(j: SessionRunJob): Promise<void> {
        this.jobs.push(j);
      }
      async remove(): Promise<void> {}
      async wake(): Promise<void> {}
      async state(): Promise<RunJobState> {
        return 'missing' as RunJobState;
      }
    }
    const serverLost = () => outcome('lost', { error: { code: 'OPENCODE_UNAVAILABLE', message: 'the OpenCode server w-1-m0g1 was lost: its process exited and was restarted' } });
    /** Lost with its server after running a tool (when `tool`), then completed on the next attempt. */
    class LosingOnce extends ScriptedCodingTurns {
      constructor(private readonly tool: boolean) {
        super(async () => outcome('completed'));
      }
      override async runTurn(ref: CodingTurnRef, request: CodingTurnRequest, options: RunTurnOptions): Promise<CodingTurnOutcome> {
        this.runs.push({ ref, request, resume: false });
        if (this.runs.length > 1) return outcome('completed');
        if (this.tool) options.onProgress?.({ kind: 'tool', detail: { messageId: 'm', partId: 'p', callId: 'c', tool: 'bash', status: 'completed', input: 'rm -rf build' } });
        return serverLost();
      }
    }

    it('runs the session again as a new attempt, which completes; the history says why', async () => {
      const s = await queued();
      const queue = new RecordingQueue();
      const turns = new LosingOnce(false);
      await worker(turns, { queue }).run(job(s));
      expect(await stored(s)).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2, error: null });
      expect(queue.jobs).toEqual([{ sessionId: s.id, attempt: 2 }]);
      await worker(turns, { queue }).run(queue.jobs[0]);
      expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, attempt: 2 });
      expect(turns.opened).toBe(2);
    });

    /** Records the status and attempt of every write of the repository from now on; `failOn` makes that write fail. */
    function recordWrites(failOn?: string): string[] {
      const written: string[] = [];
      const update = repo.update.bind(repo);
      jest.spyOn(repo, 'update').mockImplementation(async (x: Session) => {
        const write = `${x.status}#${x.attempt}`;
        if (write === failOn) throw new Error('the database refused the write');
        await update(x);
        written.push(write);
      });
      return written;
    }
    const historyOf = async (s: Session) => (await repo.events(s.id)).map((e) => `${e.from ?? '-'}>${e.to}#${e.attempt}`);

    it('fails the attempt over in one write: no reader finds it FAILED, the history keeps RUNNING → FAILED → QUEUED', async () => {
      const publisher = new SessionTransitionPublisher();
      const published: Array<{ to: string; status: string; attempt: number; version: number; inputTokens?: number }> = [];
      publisher.observe((e) => published.push({ to: e.to, status: e.session.status, attempt: e.session.attempt, version: e.session.version, inputTokens: e.session.usage?.inputTokens }));
      repo = new InMemorySessionRepository(publisher);
      const s = await queued();
      const queue = new RecordingQueue();
      const written = recordWrites();
      await worker(new LosingOnce(false), { queue }).run(job(s));
      // Claimed, its turn attached, then its end and its next attempt at once.
      expect(written).toEqual(['RUNNING#1', 'RUNNING#1', 'QUEUED#2']);
      expect(await historyOf(s)).toEqual(['->PENDING#1', 'PENDING>QUEUED#1', 'QUEUED>RUNNING#1', 'RUNNING>FAILED#1', 'FAILED>QUEUED#2']);
      expect((await repo.events(s.id))[3].reason).toMatch(/^OPENCODE_UNAVAILABLE: /);
      expect((await repo.events(s.id))[4].reason).toMatch(/^failover after its OpenCode server was lost \(the OpenCode server w-1-m0g1 was lost: .+\) \(attempt 2\)$/);
      // Each transition is told with the state it left (the failed attempt's usage counts), both at the one write's version.
      const [failed, requeued] = published.slice(-2);
      expect(failed).toEqual({ to: 'FAILED', status: 'FAILED', attempt: 1, version: requeued.version, inputTokens: 10 });
      expect(requeued).toEqual({ to: 'QUEUED', status: 'QUEUED', attempt: 2, version: failed.version, inputTokens: undefined });
      expect(queue.jobs).toEqual([{ sessionId: s.id, attempt: 2 }]);
    });

    it('records neither the failure nor the next attempt when the failover write fails (the session stays RUNNING, for recovery)', async () => {
      const s = await queued();
      const queue = new RecordingQueue();
      recordWrites('QUEUED#2');
      await expect(worker(new LosingOnce(false), { queue }).run(job(s))).rejects.toThrow('the database refused the write');
      expect(await stored(s)).toMatchObject({ status: SessionStatus.RUNNING, attempt: 1, error: null });
      expect(await historyOf(s)).toEqual(['->PENDING#1', 'PENDING>QUEUED#1', 'QUEUED>RUNNING#1']);
      expect(queue.jobs).toEqual([]);
    });

    it('fails over a turn that could not be opened in one write too', async () => {
      const s = await queued();
      const queue = new RecordingQueue();
      const written = recordWrites();
      await worker(new ScriptedCodingTurns(async () => outcome('completed'), true), { queue }).run(job(s));
      expect(written).toEqual(['RUNNING#1', 'QUEUED#2']);
      expect(await historyOf(s)).toEqual(['->PENDING#1', 'PENDING>QUEUED#1', 'QUEUED>RUNNING#1', 'RUNNING>FAILED#1', 'FAILED>QUEUED#2']);
    });

    it('leaves a shared session FAILED when the lost turn ran a tool (it may have changed the workspace), and any session at its last automatic attempt', async () => {
      const s = await queued();
      const queue = new RecordingQueue();
      await worker(new LosingOnce(true), { queue }).run(job(s));
      expect(await stored(s)).toMatchObject({ status: SessionStatus.FAILED, attempt: 1, error: { code: 'OPENCODE_UNAVAILABLE' } });
      expect(queue.jobs).toEqual([]);

      const last = await queued();
      for (let attempt = 1; attempt < FAILOVER_LAST_ATTEMPT; attempt++) {
        await worker(new ScriptedCodingTurns(async () => serverLost()), { queue }).run({ sessionId: last.id, attempt });
      }
      expect(await stored(last)).toMatchObject({ status: SessionStatus.QUEUED, attempt: FAILOVER_LAST_ATTEMPT });
      await worker(new ScriptedCodingTurns(async () => serverLost()), { queue }).run({ sessionId: last.id, attempt: FAILOVER_LAST_ATTEMPT });
      expect(await stored(last)).toMatchObject({ status: SessionStatus.FAILED, attempt: FAILOVER_LAST_ATTEMPT, error: { code: 'OPENCODE_UNAVAILABLE' } });
    });

    it('runs a session whose turn could not be opened (no prompt went out) again, up to the last automatic attempt', async () => {
      const s = await queued();
      const queue = new RecordingQueue();
      const refusing = () => new ScriptedCodingTurns(async () => outcome('completed'), true);
      await worker(refusing(), { queue }).run(job(s));
      expect(await stored(s)).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2 });
      expect((await repo.events(s.id)).at(-1)?.reason).toMatch(/^failover after no OpenCode turn could be opened \(could not open a turn: .+\) \(attempt 2\)$/);
      await worker(refusing(), { queue }).run({ sessionId: s.id, attempt: 2 });
      await worker(refusing(), { queue }).run({ sessionId: s.id, attempt: FAILOVER_LAST_ATTEMPT });
      expect(await stored(s)).toMatchObject({ status: SessionStatus.FAILED, attempt: FAILOVER_LAST_ATTEMPT, error: { code: 'OPENCODE_UNAVAILABLE' } });
      expect(queue.jobs).toEqual([
        { sessionId: s.id, attempt: 2 },
        { sessionId: s.id, attempt: 3 },
      ]);
    });
  });

  it('records the provider error as FAILED', async () => {
    const s = await queued();
    const agent = new ScriptedCodingTurns(async () =>
      outcome('failed', { error: { code: 'PROVIDER_ERROR', message: 'rate limited' } }),
    );
    await worker(agent).run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.FAILED, error: { code: 'PROVIDER_ERROR', message: 'rate limited' } });
  });

  it('fails with OPENCODE_UNAVAILABLE when no turn can be opened', async () => {
    const s = await queued();
    await worker(new ScriptedCodingTurns(async () => outcome('completed'), true)).run(job(s));
    expect((await stored(s)).error?.code).toBe('OPENCODE_UNAVAILABLE');
  });

  it('aborts the turn and records TIMED_OUT after timeoutSeconds', async () => {
    const s = await queued(1);
    await worker(new ScriptedCodingTurns(untilAborted)).run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.TIMED_OUT, error: { code: 'TIMED_OUT' } });
  });

  it('aborts the turn and records CANCELLED on a cancel signal', async () => {
    const s = await queued();
    const service = worker(new ScriptedCodingTurns(untilAborted));
    const running = service.run(job(s));
    await turnAttached(s, service);
    expect(service.watcher.activeSessionIds).toEqual([s.id]);
    expect(await heartbeat.alive([s.id])).toEqual(new Set([s.id])); // recovery sees a live worker
    service.watcher.onCancelRequested(s.id);
    await running;
    expect(await stored(s)).toMatchObject({ status: SessionStatus.CANCELLED, usage: { inputTokens: 10 } });
    expect(service.watcher.activeSessionIds).toEqual([]);
  });

  it('cancels by polling the row when the cancel signal was lost', async () => {
    jest.useFakeTimers({ doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'nextTick', 'queueMicrotask', 'Date', 'performance'] });
    try {
      const s = await queued();
      const service = worker(new ScriptedCodingTurns(untilAborted));
      const running = service.run(job(s));
      await turnAttached(s, service);
      const row = (await repo.findById(s.id))!;
      row.requestCancel(); // stored, but no signal reaches the worker
      await repo.update(row);
      await jest.advanceTimersByTimeAsync(WATCH_INTERVAL_MS);
      await running;
      expect((await stored(s)).status).toBe(SessionStatus.CANCELLED);
    } finally {
      jest.useRealTimers();
    }
  });

  it('still records the outcome when the title was edited during the run (version conflict)', async () => {
    const s = await queued();
    const agent = new ScriptedCodingTurns(async () => {
      const user = (await repo.findById(s.id))!;
      user.edit({ title: 'renamed while running' });
      await repo.update(user);
      return outcome('completed');
    });
    await worker(agent).run(job(s));
    expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, title: 'renamed while running' });
  });

  it('publishes the run\'s progress as it comes, all of it before the final transition is committed', async () => {
    const s = await queued();
    const published: SessionLiveEvent[] = [];
    const events: SessionEventsPort = { publish: async (e) => void published.push(e), subscribe: async () => () => undefined };
    // The repository publishes transitions right after each commit, as the real one does.
    const publishing = new InMemorySessionRepository(new SessionTransitionPublisher(events));
    publishing.rows.set(s.id, (await stored(s)));
    const talking: CodingTurnsPort = {
      openTurn: async () => ({ opencodeSessionId: 'ses_1', messageId: 'msg_1' }),
      isHealthy: async () => true,
      outlivesWorker: () => false,
      defaultModel: () => null,
      releaseDirectory: async () => true,
      runTurn: async (_ref, _request, options: RunTurnOptions): Promise<CodingTurnOutcome> => {
        options.onProgress?.({ kind: 'tool', detail: { messageId: 'm', partId: 'p1', callId: 'c1', tool: 'write', status: 'completed', input: 'a.txt' } });
        options.onProgress?.({ kind: 'files', detail: { files: ['a.txt'], latest: ['a.txt'] } });
        await new Promise((r) => setTimeout(r, 5));
        options.onProgress?.({ kind: 'text', detail: { messageId: 'm', partId: 'p2', delta: 'Wrote a.txt' } });
        return outcome('completed', { summary: 'Wrote a.txt', filesChanged: ['a.txt'] });
      },
    };
    await worker(talking, { repository: publishing, events }).run(job(s));

    const label = (e: SessionLiveEvent) => (e.type === 'transition' ? e.data.to : e.type);
    expect(published.map(label)).toEqual([SessionStatus.RUNNING, 'tool', 'files', 'text', SessionStatus.COMPLETED]);
    expect(published.filter((e) => e.type !== 'transition').every((e) => e.sessionId === s.id && e.data.attempt === 1)).toBe(true);
  });

  it('runs without an event publisher, and a failing one does not fail the run', async () => {
    const s = await queued();
    const failing = { publish: () => Promise.reject(new Error('Redis is down')), subscribe: async () => () => undefined };
    const agent: CodingTurnsPort = {
      openTurn: async () => ({ opencodeSessionId: 'ses_1', messageId: 'msg_1' }),
      isHealthy: async () => true,
      outlivesWorker: () => false,
      defaultModel: () => null,
      releaseDirectory: async () => true,
      runTurn: async (_ref, _request, options) => {
        options.onProgress?.({ kind: 'activity', detail: { state: 'busy' } });
        return outcome('completed');
      },
    };
    await worker(agent, { events: failing }).run(job(s));
    expect((await stored(s)).status).toBe(SessionStatus.COMPLETED);
  });

  it('fails with WORKSPACE_MISSING when the directory is gone', async () => {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/no/such/dir', opencodeAgent: 'build', timeoutSeconds: 5 });
    await repo.insert(s);
    s.queue();
    await repo.update(s);
    const agent = new ScriptedCodingTurns(async () => outcome('completed'));
    await worker(agent).run(job(s));
    expect((await stored(s)).error?.code).toBe('WORKSPACE_MISSING');
    expect(agent.opened).toBe(0);
  });
  describe('agents', () => {
    async function assigned(reviewOf: string | null = null): Promise<Session> {
      const s = Session.create({
        title: 't',
        prompt: 'p',
        workspace,
        opencodeAgent: 'plan',
        timeoutSeconds: 60,
        assignment: {
          agentId: REVIEWER_CHOICE.agentId,
          agentName: 'reviewer',
          role: 'REVIEWER',
          systemInstructions: 'Answer with VERDICT first.',
          disabledTools: ['bash', 'write'],
          readOnly: true,
          permissions: { webfetch: 'deny' },
          routing: { requestedRole: 'REVIEWER', skills: [], complexity: 5, score: 0.7 },
          reviewOf,
        },
      });
      await repo.insert(s);
      s.queue();
      await repo.update(s);
      return s;
    }

    it("sends the agent's system instructions and switched-off tools, and reports the finished run", async () => {
      const reviewed = await queued();
      const s = await assigned(reviewed.id);
      const agent = new ScriptedCodingTurns(async () => outcome('completed', { summary: 'VERDICT: APPROVE\nQUALITY: 9/10' }));
      await worker(agent).run(job(s));
      expect(agent.runs[0].request).toMatchObject({
        agent: 'plan',
        system: 'Answer with VERDICT first.',
        disabledTools: ['bash', 'write'],
        policy: { readOnly: true, permissions: { webfetch: 'deny' } },
      });
      const after = await stored(s);
      expect(agents.runs).toEqual([
        {
          agentId: REVIEWER_CHOICE.agentId,
          sessionId: s.id,
          attempt: 1,
          outcome: 'COMPLETED',
          durationMs: after.finishedAt!.getTime() - after.startedAt!.getTime(),
          inputTokens: 10,
          outputTokens: expect.any(Number),
          costUsd: expect.any(Number),
          finishedAt: after.finishedAt,
          resultText: 'VERDICT: APPROVE\nQUALITY: 9/10',
          reviewOf: reviewed.id,
        },
      ]);
    });

    it('reports failures and timeouts, but not runs the infrastructure ended or plain sessions', async () => {
      const failing = await assigned();
      await worker(new ScriptedCodingTurns(async () => outcome('failed'))).run(job(failing));
      const lockLost = await assigned();
      const service = worker(new ScriptedCodingTurns(untilAborted));
      const running = service.run(job(lockLost));
      await turnAttached(lockLost, service);
      locks.lose(await workspaceLockResource(workspace));
      await running;
      const plain = await queued();
      await worker(new ScriptedCodingTurns(async () => outcome('completed'))).run(job(plain));
      expect(agents.runs.map((r) => [r.sessionId, r.outcome])).toEqual([[failing.id, 'FAILED']]);
    });
  });

  describe('workspace lock', () => {
    const resource = () => workspaceLockResource(workspace);

    it('holds workspace:<path> for the whole run and releases it after', async () => {
      const s = await queued();
      let heldDuringRun: unknown;
      const agent = new ScriptedCodingTurns(async () => {
        heldDuringRun = (await locks.list()).find((l) => l.resource === `workspace:${workspace}`)?.holder?.owner;
        return outcome('completed');
      });
      await worker(agent).run(job(s));
      expect(heldDuringRun).toBe(`session:${s.id}`);
      expect(await resource()).toBe(`workspace:${workspace}`);
      expect(await locks.list()).toEqual([]);
    });

    it('runs two sessions on one workspace one after the other: the second keeps its place QUEUED without holding a worker, and is woken when the lock is handed to it', async () => {
      const first = await queued();
      const second = await queued();
      const spans: Record<string, { start: number; end: number }> = {};
      let releaseFirst = () => undefined as void;
      const agentFor = (id: string) =>
        new ScriptedCodingTurns(async () => {
          spans[id] = { start: Date.now(), end: 0 };
          if (id === first.id) await new Promise<void>((r) => (releaseFirst = r));
          spans[id].end = Date.now();
          return outcome('completed');
        });
      const queue = new FakeQueue();
      const service = worker(agentFor(first.id), { queue });
      const other = worker(agentFor(second.id), { queue });
      const a = service.run(job(first));
      await turnAttached(first, service);

      // The second run ends at once, its session QUEUED with its place kept and its wait started.
      const waited = await other.runEnd(job(second));
      expect(waited).toEqual({ waitMs: expect.any(Number), waitingFor: 'place' });
      expect(waited.waitMs).toBeGreaterThan(0);
      expect(waited.waitMs).toBeLessThanOrEqual(5_000);
      const waiting = await stored(second);
      expect(waiting).toMatchObject({ status: SessionStatus.QUEUED, startedAt: null, waitingSince: expect.any(Date) });
      expect((await locks.list())[0]).toMatchObject({ holder: { owner: `session:${first.id}` }, waiters: [{ owner: `session:${second.id}`, position: 1 }] });
      expect(other.watcher.waitingSessionIds).toEqual([second.id]);
      // Trying again while the first runs keeps its place and the start of its wait.
      expect(await other.runEnd(job(second))).toMatchObject({ waitingFor: 'place' });
      expect((await stored(second)).waitingSince).toEqual(waiting.waitingSince);
      expect((await locks.list())[0].waiters).toHaveLength(1);

      queue.jobs.set(`${second.id}.1`, 'delayed'); // what the worker does with a wait
      releaseFirst();
      await a;
      expect(queue.woken).toEqual([job(second)]); // the lock was handed to its place
      expect((await locks.list())[0].holder?.owner).toBe(`session:${second.id}`);
      expect(await other.runEnd(job(second))).toEqual({});
      expect(await stored(first)).toMatchObject({ status: SessionStatus.COMPLETED });
      expect(await stored(second)).toMatchObject({ status: SessionStatus.COMPLETED, waitingSince: null });
      expect(spans[second.id].start).toBeGreaterThanOrEqual(spans[first.id].end);
      expect(other.watcher.waitingSessionIds).toEqual([]);
      expect(await locks.list()).toEqual([]);
    });

    it('serves waiting sessions in the order they first found the workspace busy', async () => {
      const holder = await locks.acquire(await resource(), { owner: 'another session', ttlMs: 60_000, waitTimeoutMs: 0 });
      const [early, late] = [await queued(), await queued()];
      const turns = new ScriptedCodingTurns(async () => outcome('completed'));
      const service = worker(turns);
      await service.runEnd(job(early));
      await service.runEnd(job(late));
      await locks.release(holder);
      // The lock went to the earlier place: the later session keeps waiting even though it asks first.
      expect(await service.runEnd(job(late))).toMatchObject({ waitingFor: 'place' });
      expect(await service.runEnd(job(early))).toEqual({});
      expect(await service.runEnd(job(late))).toEqual({});
      expect([(await stored(early)).status, (await stored(late)).status]).toEqual([SessionStatus.COMPLETED, SessionStatus.COMPLETED]);
    });

    it('takes over the lease its own previous attempt still holds: a retry does not wait for itself', async () => {
      const s = await queued();
      const previous = await locks.acquire(await resource(), { owner: `session:${s.id}`, ttlMs: 60_000, waitTimeoutMs: 0 });
      const row = (await repo.findById(s.id))!;
      row.markRunning();
      row.fail({ code: 'OPENCODE_ERROR', message: 'boom' }, null);
      row.retry();
      await repo.update(row);
      const turns = new ScriptedCodingTurns(async () => outcome('completed'));
      expect(await worker(turns).runEnd({ sessionId: s.id, attempt: 2 })).toEqual({});
      expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, attempt: 2 });
      expect(previous.signal.aborted).toBe(true);
      expect(LockError.isTakeover(previous.signal.reason)).toBe(true); // told it was its own owner, not a loss
      expect(await locks.list()).toEqual([]);
    });

    it('stops the turn and records WORKSPACE_LOCK_LOST when the lease is lost mid-run', async () => {
      const s = await queued();
      const agent = new ScriptedCodingTurns(untilAborted);
      const service = worker(agent);
      const running = service.run(job(s));
      await turnAttached(s, service);
      locks.lose(await resource());
      await running;
      const after = await stored(s);
      expect(after.status).toBe(SessionStatus.FAILED);
      expect(after.error?.code).toBe('WORKSPACE_LOCK_LOST');
      expect(after.error?.message).toContain('taken away by the test');
    });

    it('ends TIMED_OUT with WORKSPACE_BUSY once it waited its timeout, counted from when it first found the workspace busy', async () => {
      const s = await queued(60);
      await locks.acquire(await resource(), { owner: 'another session', ttlMs: 60_000, waitTimeoutMs: 0 });
      // Queued long ago (waiting for a worker): its wait for the workspace starts only now.
      repo.rows.set(s.id, { ...(await stored(s)), queuedAt: new Date(Date.now() - 3_600_000) });
      const agent = new ScriptedCodingTurns(async () => outcome('completed'));
      const service = worker(agent);
      expect(await service.runEnd(job(s))).toMatchObject({ waitingFor: 'place' });
      const since = (await stored(s)).waitingSince!;
      expect(Date.now() - since.getTime()).toBeLessThan(60_000);

      // Its timeout passes while its job is delayed (the start is on the row, not in a process).
      repo.rows.set(s.id, { ...(await stored(s)), waitingSince: new Date(since.getTime() - 60_000) });
      expect(await service.runEnd(job(s))).toEqual({});
      const after = await stored(s);
      expect(after).toMatchObject({ status: SessionStatus.TIMED_OUT, error: { code: 'WORKSPACE_BUSY' } });
      expect(after.startedAt).toBeNull();
      expect(agent.opened).toBe(0);
      expect((await locks.list())[0].waiters).toEqual([]);
    });

    it('waits no longer than its remaining timeout before it tries again', async () => {
      const s = await queued(60);
      await locks.acquire(await resource(), { owner: 'another session', ttlMs: 60_000, waitTimeoutMs: 0 });
      const service = worker(new ScriptedCodingTurns(async () => outcome('completed')));
      await service.runEnd(job(s));
      repo.rows.set(s.id, { ...(await stored(s)), waitingSince: new Date(Date.now() - 59_900) });
      expect((await service.runEnd(job(s))).waitMs).toBeLessThanOrEqual(100);
    });

    it('gives its place up when the queued session is cancelled while it waits', async () => {
      const s = await queued();
      await locks.acquire(await resource(), { owner: 'another session', ttlMs: 60_000, waitTimeoutMs: 0 });
      const agent = new ScriptedCodingTurns(async () => outcome('completed'));
      const service = worker(agent);
      expect(await service.runEnd(job(s))).toMatchObject({ waitingFor: 'place' });
      expect((await locks.list())[0].waiters).toHaveLength(1);
      const row = (await repo.findById(s.id))!;
      row.cancel('cancelled by user');
      await repo.update(row);
      service.watcher.onCancelRequested(s.id);
      await waitUntil(async () => (await locks.list())[0].waiters.length === 0);
      expect(service.watcher.waitingSessionIds).toEqual([]);
      expect(await service.runEnd(job(s))).toEqual({}); // a job that runs anyway does nothing
      expect((await stored(s)).status).toBe(SessionStatus.CANCELLED);
      expect(agent.opened).toBe(0);
    });
  });

  describe('in a worktree slot (real git)', () => {
    /** Real git makes and switches the slot: a dozen git processes, seconds on a loaded machine. */
    const GIT_WORK_MS = 20_000;
    const repository = realpathSync(makeTempWorkspace({ git: true, files: { 'README.md': 'x\n' } }));
    const worktreesDir = realpathSync(makeTempWorkspace());
    const slotConfig = AppConfig.with({ WORKTREES_DIR: worktreesDir });
    const baseCommit = git(repository, 'rev-parse', 'HEAD');

    function slotWorker(turns: CodingTurnsPort): Worker {
      const spaces = testWorkspaces(undefined, undefined, worktreesDir);
      const watcher = new RunWatcher(repo, heartbeat);
      const slots = new WorktreeSlots(locks, testGit(), spaces, slotConfig);
      const service = new SessionExecutionService(repo, turns, watcher, new WorkspaceLock(locks, spaces, slotConfig), slots, slotConfig, agents, spaces);
      return { run: async (j) => void (await service.run(j)), runEnd: (j) => service.run(j), watcher };
    }

    async function queuedIn(branch: string): Promise<Session> {
      const s = Session.create({
        title: 'Write a',
        prompt: 'p',
        workspace: repository,
        opencodeAgent: 'build',
        timeoutSeconds: 60,
        worktree: newSessionWorktree({ repository, subdirectory: '', branch, baseRef: null, baseCommit }),
      });
      await repo.insert(s);
      s.queue();
      await repo.update(s);
      return s;
    }

    /** A turn that writes a.txt where it runs, then ends as `then` says. */
    const writing = (then: (signal: AbortSignal) => Promise<CodingTurnOutcome>): CodingTurnsPort => {
      const turns = new ScriptedCodingTurns(then);
      const run = turns.runTurn.bind(turns);
      turns.runTurn = (ref, request, options) => {
        writeFileSync(join(request.workspace, 'a.txt'), 'a\n');
        return run(ref, request, options);
      };
      return turns;
    };

    it('runs the turn in a slot on its branch and commits its work there, leaving the workspace alone', async () => {
      const s = await queuedIn('orchestrator/unit-one');
      const turns = writing(async () => outcome('completed'));
      await slotWorker(turns).run(job(s));
      const after = await stored(s);
      expect(after.status).toBe(SessionStatus.COMPLETED);
      expect(after.worktree).toMatchObject({ files: ['a.txt'], insertions: 1, deletions: 0, slot: null, state: 'ACTIVE' });
      expect(after.worktree?.headCommit).toBe(git(repository, 'rev-parse', 'orchestrator/unit-one'));
      expect(git(repository, 'show', 'orchestrator/unit-one:a.txt')).toBe('a');
      expect(existsSync(join(repository, 'a.txt'))).toBe(false);
      const slot = (turns as ScriptedCodingTurns).runs[0].request.workspace;
      expect(slot.startsWith(worktreesDir)).toBe(true);
      expect(git(slot, 'branch', '--show-current')).toBe(''); // detached: the branch is free for the next run
      expect(await locks.list()).toEqual([]);
    }, GIT_WORK_MS);

    it('keeps a place QUEUED while every slot is busy, takes the slot handed to it, and gives up after its timeout', async () => {
      const twoSlots = AppConfig.with({ WORKTREES_DIR: worktreesDir, WORKTREE_SLOTS_PER_REPOSITORY: '2' });
      const spaces = testWorkspaces(undefined, undefined, worktreesDir);
      const slots = new WorktreeSlots(locks, testGit(), spaces, twoSlots);
      const home = await slots.homeOf(repository);
      const queue = new FakeQueue();
      const service = new SessionExecutionService(repo, writing(async () => outcome('completed')), new RunWatcher(repo, heartbeat), new WorkspaceLock(locks, spaces, twoSlots), slots, twoSlots, agents, spaces, null, null, queue);
      const holders = await Promise.all(
        [0, 1].map((n) => locks.acquire(slotLockResource(join(home, `slot-${n}`)), { owner: `another session ${n}`, ttlMs: 60_000, waitTimeoutMs: 0 })),
      );

      const patient = await queuedIn('orchestrator/unit-wait');
      expect(await service.run(job(patient))).toMatchObject({ waitingFor: 'place' });
      expect((await stored(patient)).status).toBe(SessionStatus.QUEUED);
      // A place in the queue of every slot: the first to come free is its.
      expect((await locks.list()).map((l) => l.waiters.map((w) => w.owner))).toEqual([[`session:${patient.id}`], [`session:${patient.id}`]]);
      queue.jobs.set(`${patient.id}.1`, 'delayed');
      await locks.release(holders[1]);
      expect(queue.woken).toEqual([job(patient)]);
      expect(await service.run(job(patient))).toEqual({});
      expect((await stored(patient)).status).toBe(SessionStatus.COMPLETED);
      expect((await locks.list()).map((l) => [l.holder?.owner, l.waiters.length])).toEqual([['another session 0', 0]]); // its other place given up

      await locks.acquire(slotLockResource(join(home, 'slot-1')), { owner: 'another session 1', ttlMs: 60_000, waitTimeoutMs: 0 });
      const s = await queuedIn('orchestrator/unit-busy');
      expect(await service.run(job(s))).toMatchObject({ waitingFor: 'place' });
      repo.rows.set(s.id, { ...(await stored(s)), waitingSince: new Date(Date.now() - 61_000) });
      expect(await service.run(job(s))).toEqual({});
      expect(await stored(s)).toMatchObject({ status: SessionStatus.TIMED_OUT, error: { code: 'WORKSPACE_BUSY' }, startedAt: null });
      expect((await locks.list()).every((l) => l.waiters.length === 0)).toBe(true);
    }, GIT_WORK_MS);

    it('leaves the slot to whoever holds it now when its lease is lost: nothing is committed by this run', async () => {
      const s = await queuedIn('orchestrator/unit-two');
      const turns = writing(untilAborted);
      const service = slotWorker(turns);
      const running = service.run(job(s));
      await turnAttached(s, service);
      const slot = (turns as ScriptedCodingTurns).runs[0].request.workspace;
      locks.lose(slotLockResource(slot));
      await running;
      const after = await stored(s);
      expect(after).toMatchObject({ status: SessionStatus.FAILED, error: { code: 'WORKSPACE_LOCK_LOST' } });
      expect(after.worktree?.headCommit).toBe(baseCommit);
      expect(git(repository, 'rev-parse', 'orchestrator/unit-two')).toBe(baseCommit);
    }, GIT_WORK_MS);
  });
});

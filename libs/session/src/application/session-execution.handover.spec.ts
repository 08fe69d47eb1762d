import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { makeTempWorkspace } from '@app/testing';
import { ZERO_USAGE } from '@app/shared';
import {
  FakeAgentDirectory,
  FakeApprovalGate,
  FakeQueue,
  InMemoryHeartbeat,
  InMemorySessionRepository,
  outcome,
  ScriptedCodingTurns,
  queuedSession,
  untilAborted,
} from '@app/session/testing';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { CodingPermissionWithdrawal, CodingTurnOutcome, RunTurnOptions } from './ports/coding-turns.port';
import { RunWatcher } from './run-watcher';
import { SessionExecutionService } from './session-execution.service';
import { WorkspaceLock } from './workplace/workspace-lock';
import { WorktreeSlots } from './workplace/worktree-slots';

/**
 * A planned stop of the worker (handOverRuns, once the grace is over): a turn on a server that
 * outlives the worker is left running and its run handed to the next worker, which follows it
 * without sending the prompt again; a turn on a server that stops with the worker is aborted and
 * the session queued again as a new attempt (WORKER_SHUTDOWN), never failed.
 */
describe('SessionExecutionService: handing runs over when the worker stops', () => {
  const config = AppConfig.with({});
  let repo: InMemorySessionRepository;
  let heartbeat: InMemoryHeartbeat;
  let locks: InMemoryLocks;
  let queue: FakeQueue;

  function worker(turns: ScriptedCodingTurns, gate: FakeApprovalGate | null = null) {
    const watcher = new RunWatcher(repo, heartbeat);
    const workspaces = testWorkspaces();
    return new SessionExecutionService(
      repo,
      turns,
      watcher,
      new WorkspaceLock(locks, workspaces, config),
      new WorktreeSlots(locks, testGit(), workspaces, config),
      config,
      new FakeAgentDirectory(),
      workspaces,
      null,
      gate,
      queue,
    );
  }

  const queued = () => queuedSession(repo, makeTempWorkspace());
  const stored = async (s: Session) => (await repo.findById(s.id, { includeDeleted: true }))!.snapshot();
  const job = (s: Session) => ({ sessionId: s.id, attempt: s.attempt });
  async function following(s: Session, turns: ScriptedCodingTurns): Promise<void> {
    for (let i = 0; i < 1000 && turns.runs.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect((await stored(s)).status).toBe(SessionStatus.RUNNING);
  }
  const holders = async () => (await locks.list()).map((l) => l.holder?.owner);

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));
  beforeEach(() => {
    repo = new InMemorySessionRepository();
    heartbeat = new InMemoryHeartbeat();
    locks = new InMemoryLocks();
    queue = new FakeQueue();
  });

  it('leaves a turn that outlives the worker running, keeps its workspace lease, and the next worker follows it to the end', async () => {
    const s = await queued();
    let aborted = false;
    const external = new ScriptedCodingTurns((signal) => {
      signal.addEventListener('abort', () => (aborted = true));
      return new Promise(() => undefined); // still running when the worker stops
    });
    external.outlives = true;
    const stopping = worker(external);
    const run = stopping.run(job(s));
    await following(s, external);

    expect(stopping.handOverRuns()).toBe(1);
    expect(await run).toEqual({ handedOver: 'follow' });
    expect(aborted).toBe(false);
    const after = await stored(s);
    expect(after).toMatchObject({ status: SessionStatus.RUNNING, attempt: 1, opencodeSessionId: 'ses_1' });
    expect(await holders()).toEqual([`session:${s.id}`]); // no waiting session gets the workspace meanwhile
    expect(queue.enqueued).toEqual([]);

    const next = new ScriptedCodingTurns(async (_signal, resume) => outcome(resume ? 'completed' : 'failed'));
    expect(await worker(next).run(job(s))).toEqual({});
    expect(next.opened).toBe(0); // the same turn, its prompt not sent again
    expect(next.runs[0]).toMatchObject({ resume: true, ref: { opencodeSessionId: 'ses_1', messageId: 'msg_1' } });
    expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, attempt: 1 });
    expect((await repo.events(s.id)).map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'COMPLETED']);
    expect(await holders()).toEqual([]);
  });

  it('aborts a turn whose server stops with the worker and queues the session again as a new attempt (WORKER_SHUTDOWN), not WORKER_LOST', async () => {
    const s = await queued();
    const managed = new ScriptedCodingTurns(untilAborted);
    const stopping = worker(managed);
    const run = stopping.run(job(s));
    await following(s, managed);

    stopping.handOverRuns();
    expect(await run).toEqual({ handedOver: 'new-attempt' });
    const after = await stored(s);
    expect(after).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2, error: null, opencodeSessionId: null });
    const events = await repo.events(s.id);
    expect(events.map((e) => e.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'QUEUED']);
    expect(events.at(-1)?.reason).toMatch(/^WORKER_SHUTDOWN: .*\(attempt 2\)$/);
    expect(queue.enqueued).toEqual([{ sessionId: s.id, attempt: 2 }]);
    expect(queue.ahead).toEqual([{ sessionId: s.id, attempt: 2 }]);
    expect(await holders()).toEqual([]); // its place is free for the new attempt

    const next = new ScriptedCodingTurns(async () => outcome('completed'));
    await worker(next).run({ sessionId: s.id, attempt: 2 });
    expect(await stored(s)).toMatchObject({ status: SessionStatus.COMPLETED, attempt: 2 });
  });

  it('hands off at once a run that reaches its turn after the grace is over', async () => {
    const s = await queued();
    const managed = new ScriptedCodingTurns(untilAborted);
    const stopping = worker(managed);
    expect(stopping.handOverRuns()).toBe(0);
    expect(await stopping.run(job(s))).toEqual({ handedOver: 'new-attempt' });
    expect(await stored(s)).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2 });
  });

  it('cancels, instead of queueing again, a session whose cancel was asked before the worker stopped', async () => {
    const s = await queued();
    const managed = new ScriptedCodingTurns((signal) => new Promise((resolve) => signal.addEventListener('abort', () => setTimeout(() => resolve(outcome('aborted')), 20))));
    const stopping = worker(managed);
    const run = stopping.run(job(s));
    await following(s, managed);
    const row = (await repo.findById(s.id))!;
    row.requestCancel();
    await repo.update(row);

    stopping.handOverRuns();
    expect(await run).toEqual({});
    expect(await stored(s)).toMatchObject({ status: SessionStatus.CANCELLED, attempt: 1 });
    expect(queue.enqueued).toEqual([]);
  });

  it('leaves the approval a handed-over turn waits for PENDING, for the next worker to find again', async () => {
    const s = await queued();
    const gate = new FakeApprovalGate();
    // Like the turn follower: it asks, and a detach withdraws the question without an answer.
    class AskingExternal extends ScriptedCodingTurns {
      override async runTurn(ref: Parameters<ScriptedCodingTurns['runTurn']>[0], request: Parameters<ScriptedCodingTurns['runTurn']>[1], options: RunTurnOptions): Promise<CodingTurnOutcome> {
        this.runs.push({ ref, request, resume: options.resume ?? false });
        const withdrawal = new AbortController();
        options.detach?.addEventListener('abort', () => withdrawal.abort({ kind: 'detached' } satisfies CodingPermissionWithdrawal), { once: true });
        const asked = { requestId: 'per_1', opencodeSessionId: 'ses_1', permission: 'edit', patterns: ['a.txt'], title: 'edit a.txt', metadata: {} };
        void options.onPermission?.(asked, withdrawal.signal).catch(() => undefined);
        return new Promise((resolve) => options.detach?.addEventListener('abort', () => resolve({ status: 'detached', summary: '', filesChanged: [], usage: { ...ZERO_USAGE } }), { once: true }));
      }
    }
    const external = new AskingExternal(untilAborted);
    external.outlives = true;
    const stopping = worker(external, gate);
    const run = stopping.run(job(s));
    const pending = await gate.pendingOf(s.id);

    stopping.handOverRuns();
    expect(await run).toEqual({ handedOver: 'follow' });
    expect(gate.approvals.get(pending.id)?.status).toBe('PENDING');
  });
});

import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { AwaitingApprovals } from './awaiting-approvals';
import {
  CodingTurnsPort,
  CodingPermissionReply,
  CodingPermissionRequest,
  CodingTurnOutcome,
  CodingTurnRef,
  RunTurnOptions,
} from './ports/coding-turns.port';
import { ApprovalEventData, SessionEventsPort, SessionLiveEvent } from './ports/session-events.port';
import { SessionRunJob } from './ports/session-queue.port';
import { RunWatcher } from './run-watcher';
import { SessionExecutionService } from './session-execution.service';
import { WorkspaceLock } from './workplace/workspace-lock';
import { WorktreeSlots } from './workplace/worktree-slots';
import { FakeAgentDirectory, FakeApprovalGate, InMemoryHeartbeat, InMemorySessionRepository, outcome, queuedSession } from '@app/session/testing';
import { makeTempWorkspace } from '@app/testing';

const REQUEST: CodingPermissionRequest = {
  requestId: 'per_1',
  opencodeSessionId: 'ses_1',
  permission: 'edit',
  patterns: ['a.txt'],
  title: 'edit a.txt',
  metadata: { filepath: '/ws/a.txt' },
};

/** Coding turns whose turn asks one permission, then ends as its script says for the reply. */
class AskingCodingTurns implements CodingTurnsPort {
  replies: CodingPermissionReply[] = [];
  withdrawals: unknown[] = [];
  constructor(private readonly end: (reply: CodingPermissionReply | undefined, signal: AbortSignal) => Promise<CodingTurnOutcome>) {}

  async openTurn(): Promise<CodingTurnRef> {
    return { opencodeSessionId: 'ses_1', messageId: 'msg_1' };
  }

  async runTurn(_ref: CodingTurnRef, _request: unknown, options: RunTurnOptions): Promise<CodingTurnOutcome> {
    if (!options.onPermission) return this.end(undefined, options.signal);
    // Like the turn follower: the decision's signal is withdrawn when the turn is aborted.
    const withdrawal = new AbortController();
    options.signal.addEventListener('abort', () => withdrawal.abort({ kind: 'turn-ended' }), { once: true });
    const reply = await Promise.race([
      options.onPermission(REQUEST, withdrawal.signal),
      new Promise<undefined>((resolve) => options.signal.addEventListener('abort', () => resolve(undefined), { once: true })),
    ]);
    if (reply) this.replies.push(reply);
    return this.end(reply, options.signal);
  }

  outlivesWorker(): boolean {
    return false;
  }

  async isHealthy(): Promise<boolean> {
    return true;
  }

  defaultModel(): string | null {
    return 'rehearsal/scripted';
  }
  async releaseDirectory(): Promise<boolean> {
    return true;
  }

}

class RecordingEvents implements SessionEventsPort {
  readonly events: SessionLiveEvent[] = [];
  async publish(event: SessionLiveEvent): Promise<void> {
    this.events.push(event);
  }
  async subscribe(): Promise<() => void> {
    return () => undefined;
  }
  approvals(): ApprovalEventData[] {
    return this.events.flatMap((e) => (e.type === 'approval' ? [e.data] : []));
  }
}

describe('SessionExecutionService: approvals', () => {
  const workspace = makeTempWorkspace();
  const config = AppConfig.with({ APPROVAL_TIMEOUT_SECONDS: '900' });
  let repo: InMemorySessionRepository;
  let gate: FakeApprovalGate;
  let events: RecordingEvents;

  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));
  beforeEach(() => {
    repo = new InMemorySessionRepository();
    gate = new FakeApprovalGate();
    events = new RecordingEvents();
  });

  const queued = () => queuedSession(repo, workspace);
  /** The use case, and its run watcher (where cancel signals arrive). */
  const service = (agent: CodingTurnsPort, withGate = true) => {
    const watcher = new RunWatcher(repo, new InMemoryHeartbeat());
    const workspaces = testWorkspaces();
    const locks = new InMemoryLocks();
    const execution = new SessionExecutionService(
      repo,
      agent,
      watcher,
      new WorkspaceLock(locks, workspaces, config),
      new WorktreeSlots(locks, testGit(), workspaces, config),
      config,
      new FakeAgentDirectory(),
      workspaces,
      events,
      withGate ? gate : null,
    );
    return { run: (job: SessionRunJob) => execution.run(job), watcher };
  };
  const stored = async (s: Session) => (await repo.findById(s.id))!.snapshot();
  const denied = () => outcome('failed', { error: { code: 'PERMISSION_DENIED', message: 'permission refused: edit a.txt; OpenCode stopped the turn there' } });

  it('opens an approval, shows it while the turn waits, and tells OpenCode once it is allowed', async () => {
    const agent = new AskingCodingTurns(async (reply) => (reply === 'reject' ? denied() : outcome('completed')));
    const s = await queued();
    const run = service(agent).run({ sessionId: s.id, attempt: s.attempt });

    const pending = await gate.pendingOf(s.id);
    expect(pending).toMatchObject({ attempt: 1, permission: 'edit', patterns: ['a.txt'], title: 'edit a.txt' });
    const running = (await repo.findById(s.id))!;
    expect(running.status).toBe(SessionStatus.RUNNING);
    expect((await new AwaitingApprovals(gate).ofOne(running)).map((a) => a.id)).toEqual([pending.id]);

    gate.decide(pending.id, { status: 'ALLOWED', remember: true, decidedBy: 'key', answeredByKeyId: 'key-1' });
    await run;
    expect(agent.replies).toEqual(['always']);
    expect((await stored(s)).status).toBe(SessionStatus.COMPLETED);
    expect(events.approvals()).toEqual([
      expect.objectContaining({ approvalId: pending.id, attempt: 1, status: 'PENDING', title: 'edit a.txt' }),
      expect.objectContaining({ approvalId: pending.id, status: 'ALLOWED', decidedBy: 'key', answeredByKeyId: 'key-1' }),
    ]);
    expect(await new AwaitingApprovals(gate).ofOne((await repo.findById(s.id))!)).toEqual([]);
  });

  it('says which approval stopped the turn, and how, when it is denied or expires', async () => {
    for (const [decision, says] of [
      [{ status: 'DENIED', decidedBy: 'key', answeredByKeyId: 'key-9' }, 'was not granted: it was denied by key key-9'],
      [{ status: 'EXPIRED', decidedBy: 'timeout' }, 'was not granted: nobody answered it within 900 s (APPROVAL_TIMEOUT_SECONDS)'],
    ] as const) {
      const agent = new AskingCodingTurns(async (reply) => (reply === 'reject' ? denied() : outcome('completed')));
      const s = await queued();
      const run = service(agent).run({ sessionId: s.id, attempt: s.attempt });
      const pending = await gate.pendingOf(s.id);
      gate.decide(pending.id, decision);
      await run;
      expect(agent.replies).toEqual(['reject']);
      expect((await stored(s)).error).toEqual({ code: 'PERMISSION_DENIED', message: `approval ${pending.id} (edit a.txt) ${says}; OpenCode stopped the turn there` });
    }
  });

  it('cancels the approval when the session is cancelled while it waits', async () => {
    const agent = new AskingCodingTurns(async (_reply, signal) => (signal.aborted ? outcome('aborted') : outcome('completed')));
    const s = await queued();
    const execution = service(agent);
    const run = execution.run({ sessionId: s.id, attempt: s.attempt });
    const pending = await gate.pendingOf(s.id);
    execution.watcher.onCancelRequested(s.id);
    await run;
    expect((await stored(s)).status).toBe(SessionStatus.CANCELLED);
    expect(gate.approvals.get(pending.id)).toMatchObject({ status: 'CANCELLED', decidedBy: 'session-ended' });
    // The turn returned without waiting for the decision; the run still announced it before it ended.
    expect(events.approvals().map((a) => a.status)).toEqual(['PENDING', 'CANCELLED']);
  });

  it('without the approval context, passes no handler: the coding server refuses at once', async () => {
    const agent = new AskingCodingTurns(async (reply) => (reply === undefined ? denied() : outcome('completed')));
    const s = await queued();
    await service(agent, false).run({ sessionId: s.id, attempt: s.attempt });
    expect((await stored(s)).error?.code).toBe('PERMISSION_DENIED');
    expect(gate.approvals.size).toBe(0);
  });
});

import { ZERO_USAGE } from '@app/shared';
import { Session } from './session';
import { SESSION_TRANSITIONS, SessionStatus } from './session-status';
import { SessionError, SessionErrorCode } from './session.errors';
import { TurnCircumstances, TurnOutcome } from './turn-outcome';

const ALL = Object.values(SessionStatus);

function newSession(): Session {
  return Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60 });
}

/** Drives a fresh session into `status` through allowed transitions only. */
function sessionIn(status: SessionStatus): Session {
  const s = newSession();
  const path: Record<SessionStatus, (s: Session) => void> = {
    [SessionStatus.PENDING]: () => undefined,
    [SessionStatus.QUEUED]: (x) => x.queue(),
    [SessionStatus.RUNNING]: (x) => (x.queue(), x.markRunning()),
    [SessionStatus.COMPLETED]: (x) => (x.queue(), x.markRunning(), x.complete({ summary: 'ok', filesChanged: [] }, ZERO_USAGE)),
    [SessionStatus.FAILED]: (x) => (x.queue(), x.markRunning(), x.fail({ code: 'E', message: 'm' }, null)),
    [SessionStatus.TIMED_OUT]: (x) => (x.queue(), x.markRunning(), x.timeOut(null)),
    [SessionStatus.CANCELLED]: (x) => x.cancel('by test'),
  };
  path[status](s);
  s.pullEvents();
  return s;
}

/** The one method that moves a session to `to`. */
function moveTo(s: Session, to: SessionStatus): void {
  const moves: Record<SessionStatus, () => void> = {
    [SessionStatus.PENDING]: () => {
      throw new SessionError(SessionErrorCode.INVALID_TRANSITION, 'nothing goes back to PENDING');
    },
    [SessionStatus.QUEUED]: () => (s.status === SessionStatus.PENDING ? s.queue() : s.status === SessionStatus.RUNNING ? s.requeue('rate limited') : s.retry()),
    [SessionStatus.RUNNING]: () => s.markRunning(),
    [SessionStatus.COMPLETED]: () => s.complete({ summary: '', filesChanged: [] }, ZERO_USAGE),
    [SessionStatus.FAILED]: () => (s.status === SessionStatus.QUEUED ? s.failUnrun({ code: 'E', message: 'm' }) : s.fail({ code: 'E', message: 'm' }, null)),
    [SessionStatus.TIMED_OUT]: () => (s.status === SessionStatus.QUEUED ? s.timeOutWaiting('workspace:/w') : s.timeOut(null)),
    [SessionStatus.CANCELLED]: () => s.cancel('by test'),
  };
  moves[to]();
}

describe('Session state machine', () => {
  const cases = ALL.flatMap((from) => ALL.map((to) => [from, to, SESSION_TRANSITIONS[from].includes(to)] as const));

  it.each(cases.filter(([, , ok]) => ok))('allows %s → %s and records it', (from, to) => {
    const s = sessionIn(from);
    moveTo(s, to);
    expect(s.status).toBe(to);
    const [t] = s.pullEvents();
    expect(t).toMatchObject({ from, to });
  });

  it.each(cases.filter(([, , ok]) => !ok))('refuses %s → %s with INVALID_TRANSITION', (from, to) => {
    const s = sessionIn(from);
    const before = s.snapshot();
    let error: unknown;
    try {
      moveTo(s, to);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SessionError);
    expect((error as SessionError).code).toBe(SessionErrorCode.INVALID_TRANSITION);
    expect(s.snapshot()).toEqual(before);
    expect(s.pullEvents()).toEqual([]);
  });

  it('covers all 49 pairs: 14 allowed, 35 refused', () => {
    expect(cases.filter(([, , ok]) => ok)).toHaveLength(14);
    expect(cases.filter(([, , ok]) => !ok)).toHaveLength(35);
  });

  it('requeues a running attempt without spending it, forgetting its turn and slot but not when it was queued', () => {
    const s = sessionIn(SessionStatus.RUNNING);
    const queuedAt = s.snapshot().queuedAt;
    s.attachTurn('ses_1', 'msg_1', 'm0');
    s.requeue('rate limited before its first step');
    const snap = s.snapshot();
    expect(snap).toMatchObject({ status: SessionStatus.QUEUED, attempt: 1, opencodeSessionId: null, opencodeMessageId: null, opencodeServerId: null, startedAt: null });
    expect(snap.queuedAt).toEqual(queuedAt);
    expect(s.pullEvents()).toEqual([expect.objectContaining({ from: SessionStatus.RUNNING, to: SessionStatus.QUEUED, reason: 'rate limited before its first step', attempt: 1 })]);
  });

  it('queues a running attempt again as a new attempt when its worker stops on purpose (WORKER_SHUTDOWN), forgetting its turn and slot', () => {
    const s = sessionIn(SessionStatus.RUNNING);
    s.attachTurn('ses_1', 'msg_1', 'w1-m0g1');
    s.useModel('rehearsal/scripted');
    s.requeueAfterShutdown('its OpenCode server stops with the worker; the turn was aborted');
    expect(s.snapshot()).toMatchObject({
      status: SessionStatus.QUEUED,
      attempt: 2,
      opencodeSessionId: null,
      opencodeMessageId: null,
      opencodeServerId: null,
      modelUsed: null,
      startedAt: null,
      error: null,
    });
    expect(s.pullEvents()).toEqual([
      expect.objectContaining({
        from: SessionStatus.RUNNING,
        to: SessionStatus.QUEUED,
        attempt: 2,
        reason: 'WORKER_SHUTDOWN: its OpenCode server stops with the worker; the turn was aborted (attempt 2)',
      }),
    ]);
    for (const status of ALL.filter((x) => x !== SessionStatus.RUNNING)) {
      expect(() => sessionIn(status).requeueAfterShutdown('stop')).toThrow(expect.objectContaining({ code: SessionErrorCode.INVALID_TRANSITION }));
    }
  });

  it('refuses to record a turn handed to another worker (detached): it has not ended', () => {
    const s = sessionIn(SessionStatus.RUNNING);
    s.attachTurn('ses_1', 'msg_1');
    expect(() => s.recordTurnOutcome({ status: 'detached', summary: '', filesChanged: [], usage: ZERO_USAGE }, { resumed: false })).toThrow(
      expect.objectContaining({ code: SessionErrorCode.INVALID_TRANSITION }),
    );
    expect(s.status).toBe(SessionStatus.RUNNING);
  });

  it('records the model a run uses, and forgets it on a retry', () => {
    const s = sessionIn(SessionStatus.QUEUED);
    s.useModel('rehearsal/fallback');
    expect(s.snapshot().modelUsed).toBe('rehearsal/fallback');
    s.markRunning();
    s.fail({ code: 'E', message: 'm' }, null);
    s.retry();
    expect(s.snapshot().modelUsed).toBeNull();
  });

  it('keeps a budget normalised and refuses a bad one naming the field', () => {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60, budget: { maxTokens: 1000, maxCostUsd: undefined } });
    expect(s.snapshot().budget).toEqual({ maxTokens: 1000 });
    s.edit({ budget: null });
    expect(s.snapshot().budget).toBeNull();
    expect(() => s.edit({ budget: { maxCostUsd: -1 } })).toThrow(expect.objectContaining({ code: SessionErrorCode.BUDGET_INVALID, details: { field: 'budget.maxCostUsd' } }));
  });

  it.each(['budget', 'runaway', 'quota'] as const)('fails a turn the worker stopped for %s with the stated failure and the usage so far', (reason) => {
    const s = sessionIn(SessionStatus.RUNNING);
    const usage = { ...ZERO_USAGE, inputTokens: 5, costUsd: 0.01 };
    const stop = { code: 'BUDGET_EXCEEDED', message: 'session budget maxTokens 4 reached' };
    s.recordTurnOutcome({ status: 'aborted', summary: 'half', filesChanged: ['a.ts'], usage }, { abortReason: reason, resumed: false, stop });
    expect(s.snapshot()).toMatchObject({ status: SessionStatus.FAILED, error: stop, usage, result: { summary: 'half', filesChanged: ['a.ts'] } });
  });

  it('records creation as the first transition', () => {
    const s = newSession();
    expect(s.pullEvents()).toEqual([expect.objectContaining({ from: null, to: SessionStatus.PENDING, attempt: 1 })]);
  });

  it('retry starts a new attempt with a clean slate', () => {
    const s = sessionIn(SessionStatus.FAILED);
    s.retry();
    const snap = s.snapshot();
    expect(snap).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2, error: null, result: null, startedAt: null });
    expect(s.pullEvents()[0]).toMatchObject({ from: SessionStatus.FAILED, to: SessionStatus.QUEUED, attempt: 2 });
  });

  it('records the outcome of a run', () => {
    const s = sessionIn(SessionStatus.RUNNING);
    s.attachTurn('ses_1', 'msg_1');
    const usage = { ...ZERO_USAGE, inputTokens: 10, outputTokens: 5, costUsd: 0.01 };
    s.complete({ summary: 'done', filesChanged: ['a.txt'] }, usage);
    expect(s.snapshot()).toMatchObject({ result: { summary: 'done', filesChanged: ['a.txt'] }, usage, error: null });
    expect(s.snapshot().finishedAt).toBeInstanceOf(Date);
  });

  it('times out a QUEUED session that never got its workspace (WORKSPACE_BUSY), and only a QUEUED one', () => {
    const s = sessionIn(SessionStatus.QUEUED);
    s.timeOutWaiting('workspace:/repo');
    expect(s.snapshot()).toMatchObject({
      status: SessionStatus.TIMED_OUT,
      startedAt: null,
      error: { code: 'WORKSPACE_BUSY', message: expect.stringContaining('workspace:/repo stayed locked') },
    });
    expect(() => sessionIn(SessionStatus.RUNNING).timeOutWaiting('workspace:/repo')).toThrow(SessionError);
    expect(() => sessionIn(SessionStatus.QUEUED).timeOut(null)).toThrow(SessionError);
  });

  it('asks a RUNNING session to cancel without changing its status', () => {
    const s = sessionIn(SessionStatus.RUNNING);
    s.requestCancel();
    expect(s.status).toBe(SessionStatus.RUNNING);
    expect(s.cancelRequested).toBe(true);
    expect(s.pullEvents()).toEqual([]);
  });

  it('refuses to attach a turn or request cancel unless RUNNING', () => {
    const s = sessionIn(SessionStatus.QUEUED);
    expect(() => s.attachTurn('a', 'b')).toThrow(SessionError);
    expect(() => s.requestCancel()).toThrow(SessionError);
  });

  it('refuses to delete a RUNNING session and allows the rest', () => {
    expect(() => sessionIn(SessionStatus.RUNNING).softDelete()).toThrow(
      expect.objectContaining({ code: SessionErrorCode.SESSION_RUNNING }),
    );
    for (const status of ALL.filter((x) => x !== SessionStatus.RUNNING)) {
      const s = sessionIn(status);
      s.softDelete();
      expect(s.isDeleted).toBe(true);
    }
  });
});

describe('Session.waitForPlace', () => {
  it('keeps when a queued attempt first found its place busy, until it runs or a new attempt starts', () => {
    const s = sessionIn(SessionStatus.QUEUED);
    const first = new Date('2026-01-01T00:00:10Z');
    s.waitForPlace(first);
    s.waitForPlace(new Date('2026-01-01T00:00:20Z'));
    expect(s.snapshot().waitingSince).toEqual(first);
    expect(s.pullEvents()).toEqual([]); // not a transition
    s.markRunning();
    expect(s.snapshot().waitingSince).toBeNull();
    s.fail({ code: 'E', message: 'm' }, null);
    s.retry();
    s.waitForPlace(new Date('2026-01-01T00:01:00Z'));
    s.timeOutWaiting('workspace:/w');
    s.retry();
    expect(s.snapshot()).toMatchObject({ attempt: 3, waitingSince: null });
  });

  it('is refused unless QUEUED', () => {
    for (const status of ALL.filter((x) => x !== SessionStatus.QUEUED)) {
      expect(() => sessionIn(status).waitForPlace()).toThrow(SessionError);
    }
  });
});

describe('Session.recordTurnOutcome', () => {
  const usage = { ...ZERO_USAGE, inputTokens: 10, outputTokens: 5 };
  const at = new Date('2026-01-01T00:00:00Z');

  function running(): Session {
    const s = newSession();
    s.queue();
    s.markRunning();
    return s;
  }
  function turn(status: TurnOutcome['status'], error?: TurnOutcome['error']): TurnOutcome {
    return { status, summary: 'so far', filesChanged: ['a.ts'], usage, ...(error ? { error } : {}) };
  }
  function recorded(outcome: TurnOutcome, circumstances: TurnCircumstances) {
    const s = running();
    s.recordTurnOutcome(outcome, circumstances, at);
    return s.snapshot();
  }
  const kept = { result: { summary: 'so far', filesChanged: ['a.ts'] }, usage, finishedAt: at };

  it('completes on a completed turn, whatever else happened', () => {
    expect(recorded(turn('completed'), { resumed: false })).toMatchObject({ status: SessionStatus.COMPLETED, error: null, ...kept });
    expect(recorded(turn('completed'), { resumed: true, abortReason: 'cancel' })).toMatchObject({ status: SessionStatus.COMPLETED });
  });

  it('cancels a turn aborted by a cancel request, or aborted without a reason', () => {
    const cancelled = { status: SessionStatus.CANCELLED, error: { code: 'CANCELLED', message: 'cancelled by user' }, ...kept };
    expect(recorded(turn('aborted'), { resumed: false, abortReason: 'cancel' })).toMatchObject(cancelled);
    expect(recorded(turn('aborted'), { resumed: false })).toMatchObject(cancelled);
    // The worker aborted it, though the turn ended otherwise meanwhile.
    expect(recorded(turn('failed'), { resumed: false, abortReason: 'cancel' })).toMatchObject(cancelled);
  });

  it('times out a turn aborted at the deadline', () => {
    expect(recorded(turn('aborted'), { resumed: false, abortReason: 'timeout' })).toMatchObject({
      status: SessionStatus.TIMED_OUT,
      error: { code: 'TIMED_OUT', message: 'no result within 60s; the OpenCode turn was aborted' },
      ...kept,
    });
  });

  it('fails with WORKSPACE_LOCK_LOST, saying why, a turn stopped because the workspace lock was lost', () => {
    const after = recorded(turn('aborted'), { resumed: false, abortReason: 'lock-lost', lockLostReason: 'Redis restarted' });
    expect(after).toMatchObject({ status: SessionStatus.FAILED, error: { code: 'WORKSPACE_LOCK_LOST' }, ...kept });
    expect(after.error?.message).toMatch(/^Redis restarted; the OpenCode turn was stopped .*; retry the session$/);
    const unexplained = recorded(turn('aborted'), { resumed: false, abortReason: 'lock-lost' });
    expect(unexplained.error?.message).toMatch(/^the workspace lock was lost; /);
  });

  it('fails with WORKER_LOST when a resumed run finds its turn lost', () => {
    const error = { code: 'OPENCODE_SESSION_LOST', message: 'unknown session ses_1' };
    expect(recorded(turn('lost', error), { resumed: true })).toMatchObject({
      status: SessionStatus.FAILED,
      error: { code: 'WORKER_LOST', message: 'the worker running this session was lost and the OpenCode turn could not be resumed: unknown session ses_1' },
      ...kept,
    });
    // Not resumed: the loss is the turn's own failure.
    expect(recorded(turn('lost', error), { resumed: false })).toMatchObject({ status: SessionStatus.FAILED, error });
  });

  it("fails with the turn's error, or OPENCODE_ERROR when it gave none", () => {
    const error = { code: 'PROVIDER_ERROR', message: 'rate limited' };
    expect(recorded(turn('failed', error), { resumed: false })).toMatchObject({ status: SessionStatus.FAILED, error, ...kept });
    expect(recorded(turn('failed'), { resumed: false })).toMatchObject({
      status: SessionStatus.FAILED,
      error: { code: 'OPENCODE_ERROR', message: 'the turn failed without an error message' },
    });
  });

  it('refuses unless RUNNING', () => {
    const queued = newSession();
    queued.queue();
    expect(() => queued.recordTurnOutcome(turn('completed'), { resumed: false })).toThrow(
      expect.objectContaining({ code: SessionErrorCode.INVALID_TRANSITION }),
    );
  });
});

describe('Session events and origin', () => {
  const PLAN = { kind: 'plan', planId: '0b7d3f4e-5c1a-4e2b-9f00-2a6c8d1e4b71', taskKey: 'implA', retryOf: null } as const;

  it('is made through the API unless a plan says otherwise, and keeps its origin', () => {
    expect(newSession().snapshot().origin).toEqual({ kind: 'api' });
    const task = Session.create({ title: 't', prompt: 'p', workspace: '/tmp', opencodeAgent: 'build', timeoutSeconds: 60, origin: PLAN });
    task.queue();
    expect(task.snapshot()).toMatchObject({ origin: PLAN, metadata: {} });
  });

  it('hands out each recorded transition once, as an event with the origin and the state after the write', () => {
    const s = Session.create(
      {
        title: 't',
        prompt: 'p',
        workspace: '/tmp',
        opencodeAgent: 'build',
        model: 'anthropic/claude-sonnet-4-5',
        timeoutSeconds: 60,
        origin: PLAN,
        assignment: {
          agentId: '7d0a3c52-8e44-4c8a-9d7e-1f0c0f5a8b11',
          agentName: 'builder',
          role: 'IMPLEMENTER',
          systemInstructions: '',
          disabledTools: [],
          readOnly: false,
          permissions: {},
          routing: { requestedRole: 'IMPLEMENTER', skills: [], complexity: 5, score: 1 },
          reviewOf: null,
        },
      },
      new Date('2026-01-01T00:00:00Z'),
    );
    s.pullEvents();
    s.queue(new Date('2026-01-01T00:00:01Z'));
    s.markRunning(new Date('2026-01-01T00:00:02Z'));
    const usage = { ...ZERO_USAGE, inputTokens: 3 };
    s.complete({ summary: 'done', filesChanged: [] }, usage, new Date('2026-01-01T00:00:05Z'));
    const events = s.pullEvents(2);
    expect(events.map((e) => [e.from, e.to])).toEqual([
      [SessionStatus.PENDING, SessionStatus.QUEUED],
      [SessionStatus.QUEUED, SessionStatus.RUNNING],
      [SessionStatus.RUNNING, SessionStatus.COMPLETED],
    ]);
    expect(events[2]).toEqual({
      sessionId: s.id,
      from: SessionStatus.RUNNING,
      to: SessionStatus.COMPLETED,
      reason: 'turn completed',
      attempt: 1,
      at: new Date('2026-01-01T00:00:05Z'),
      origin: PLAN,
      session: expect.objectContaining({
        status: SessionStatus.COMPLETED,
        version: 2,
        agent: { name: 'builder', role: 'IMPLEMENTER' },
        model: 'anthropic/claude-sonnet-4-5',
        usage,
        queuedAt: new Date('2026-01-01T00:00:01Z'),
        startedAt: new Date('2026-01-01T00:00:02Z'),
        finishedAt: new Date('2026-01-01T00:00:05Z'),
      }),
    });
    expect(events[0].session).not.toHaveProperty('prompt');
    expect(s.pullEvents()).toEqual([]);
  });

  it('hands out the transitions of one write (a failover: RUNNING → FAILED → QUEUED) each with the state it left, at the version of the write', () => {
    const s = sessionIn(SessionStatus.RUNNING);
    const usage = { ...ZERO_USAGE, inputTokens: 7 };
    const error = { code: 'OPENCODE_UNAVAILABLE', message: 'the OpenCode server was lost' };
    s.fail(error, usage, new Date('2026-01-01T00:00:05Z'));
    s.retry(new Date('2026-01-01T00:00:06Z'), 'failover after its OpenCode server was lost');
    const [failed, queued, ...more] = s.pullEvents(9);
    expect(more).toEqual([]);
    expect(failed).toMatchObject({
      from: SessionStatus.RUNNING,
      to: SessionStatus.FAILED,
      attempt: 1,
      session: { status: SessionStatus.FAILED, attempt: 1, version: 9, usage, error, finishedAt: new Date('2026-01-01T00:00:05Z') },
    });
    expect(failed.session.startedAt).toBeInstanceOf(Date);
    expect(queued).toMatchObject({
      from: SessionStatus.FAILED,
      to: SessionStatus.QUEUED,
      attempt: 2,
      reason: 'failover after its OpenCode server was lost (attempt 2)',
      session: { status: SessionStatus.QUEUED, attempt: 2, version: 9, usage: null, error: null, startedAt: null, finishedAt: null },
    });
    expect(failed).not.toHaveProperty('after');
    expect(s.pullEvents()).toEqual([]);
  });
});

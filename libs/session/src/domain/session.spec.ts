import { Session } from './session';
import { SESSION_TRANSITIONS, SessionStatus } from './session-status';
import { SessionError, SessionErrorCode } from './session.errors';
import { ZERO_USAGE } from './session-run';

const ALL = Object.values(SessionStatus);

function newSession(): Session {
  return Session.create({ title: 't', prompt: 'p', workspace: '/tmp', agent: 'build', timeoutSeconds: 60 });
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
  s.pullTransitions();
  return s;
}

/** The one method that moves a session to `to`. */
function moveTo(s: Session, to: SessionStatus): void {
  const moves: Record<SessionStatus, () => void> = {
    [SessionStatus.PENDING]: () => {
      throw new SessionError(SessionErrorCode.INVALID_TRANSITION, 'nothing goes back to PENDING');
    },
    [SessionStatus.QUEUED]: () => (s.status === SessionStatus.PENDING ? s.queue() : s.retry()),
    [SessionStatus.RUNNING]: () => s.markRunning(),
    [SessionStatus.COMPLETED]: () => s.complete({ summary: '', filesChanged: [] }, ZERO_USAGE),
    [SessionStatus.FAILED]: () => s.fail({ code: 'E', message: 'm' }, null),
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
    const [t] = s.pullTransitions();
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
    expect(s.pullTransitions()).toEqual([]);
  });

  it('covers all 49 pairs: 12 allowed, 37 refused', () => {
    expect(cases.filter(([, , ok]) => ok)).toHaveLength(12);
    expect(cases.filter(([, , ok]) => !ok)).toHaveLength(37);
  });

  it('records creation as the first transition', () => {
    const s = newSession();
    expect(s.pullTransitions()).toEqual([expect.objectContaining({ from: null, to: SessionStatus.PENDING, attempt: 1 })]);
  });

  it('retry starts a new attempt with a clean slate', () => {
    const s = sessionIn(SessionStatus.FAILED);
    s.retry();
    const snap = s.snapshot();
    expect(snap).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2, error: null, result: null, startedAt: null });
    expect(s.pullTransitions()[0]).toMatchObject({ from: SessionStatus.FAILED, to: SessionStatus.QUEUED, attempt: 2 });
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
    expect(s.pullTransitions()).toEqual([]);
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

import { Approval } from './approval';
import { APPROVAL_TRANSITIONS, ApprovalStatus, outcomeOf } from './approval-status';
import { ApprovalErrorCode } from './approval.errors';

const NOW = new Date('2030-01-01T00:00:00Z');
const later = (ms: number) => new Date(NOW.getTime() + ms);

function open(timeoutMs = 60_000): Approval {
  return Approval.open(
    {
      sessionId: '00000000-0000-4000-8000-000000000001',
      attempt: 2,
      opencodeRequestId: 'per_1',
      permission: 'edit',
      patterns: ['a.txt'],
      title: 'edit a.txt',
      metadata: { filepath: '/ws/a.txt' },
      timeoutMs,
    },
    NOW,
  );
}

describe('Approval', () => {
  it('opens PENDING, expiring after its timeout, decided by nobody yet', () => {
    const a = open().snapshot();
    expect(a).toMatchObject({
      status: ApprovalStatus.PENDING,
      attempt: 2,
      remember: false,
      expiresAt: later(60_000),
      answeredAt: null,
      answeredByKeyId: null,
      decidedBy: null,
      version: 1,
    });
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is allowed by a key, "always" when remembered', () => {
    const a = open();
    a.answer('allow', { remember: true, keyId: 'key-1' }, later(1_000));
    expect(a.snapshot()).toMatchObject({ status: 'ALLOWED', remember: true, answeredByKeyId: 'key-1', decidedBy: 'key', answeredAt: later(1_000) });
    expect(a.reply).toBe('always');
    const once = open();
    once.answer('allow', { keyId: null });
    expect(once.reply).toBe('once');
  });

  it('is denied by a key: remember means nothing then', () => {
    const a = open();
    a.answer('deny', { remember: true, keyId: 'key-2' });
    expect(a.snapshot()).toMatchObject({ status: 'DENIED', remember: false, answeredByKeyId: 'key-2', decidedBy: 'key' });
    expect(a.reply).toBe('reject');
  });

  it('expires (denied, by timeout) and is cancelled (the session ended), both refused to OpenCode', () => {
    const expired = open();
    expired.expire(later(60_000));
    expect(expired.snapshot()).toMatchObject({ status: 'EXPIRED', decidedBy: 'timeout', answeredByKeyId: null });
    expect(expired.reply).toBe('reject');
    const cancelled = open();
    cancelled.cancel();
    expect(cancelled.snapshot()).toMatchObject({ status: 'CANCELLED', decidedBy: 'session-ended' });
    expect(cancelled.reply).toBe('reject');
  });

  it('is settled by OpenCode itself (an earlier always covered it)', () => {
    const a = open();
    a.settleByOpencode(true);
    expect(a.snapshot()).toMatchObject({ status: 'ALLOWED', decidedBy: 'opencode', remember: false });
  });

  it('is decided once: a second decision names the status it already has', () => {
    const a = open();
    a.answer('deny', { keyId: 'key-1' });
    for (const decide of [() => a.answer('allow', { keyId: 'key-2' }), () => a.expire(), () => a.cancel(), () => a.settleByOpencode(true)]) {
      expect(decide).toThrow(expect.objectContaining({ code: ApprovalErrorCode.APPROVAL_ALREADY_DECIDED, message: expect.stringContaining('DENIED') }));
    }
    expect(a.snapshot()).toMatchObject({ status: 'DENIED', answeredByKeyId: 'key-1' });
  });

  it('refuses an answer that comes after its expiry, even before the worker expired it', () => {
    const a = open(1_000);
    expect(a.isOverdue(later(999))).toBe(false);
    expect(a.isOverdue(later(1_000))).toBe(true);
    expect(() => a.answer('allow', { keyId: 'late' }, later(1_000))).toThrow(expect.objectContaining({ message: expect.stringContaining('EXPIRED') }));
    expect(a.status).toBe(ApprovalStatus.PENDING);
  });

  it('bounds what it keeps: title, patterns', () => {
    const a = Approval.open({
      sessionId: 's',
      attempt: 1,
      opencodeRequestId: 'per_x',
      permission: 'bash',
      patterns: Array.from({ length: 80 }, (_, i) => `${i}`.padEnd(2_000, 'x')),
      title: 't'.repeat(1_000),
      timeoutMs: 1,
    }).snapshot();
    expect(a.title).toHaveLength(300);
    expect(a.patterns).toHaveLength(50);
    expect(a.patterns[0]).toHaveLength(1_000);
    expect(Approval.open({ sessionId: 's', attempt: 1, opencodeRequestId: 'p', permission: 'edit', patterns: [], title: '  ', timeoutMs: 1 }).snapshot().title).toBe('edit');
  });

  it('has one transition table: only PENDING moves, and every final status is an outcome', () => {
    for (const [from, targets] of Object.entries(APPROVAL_TRANSITIONS)) {
      expect({ from, moves: targets.length > 0 }).toEqual({ from, moves: from === ApprovalStatus.PENDING });
    }
    expect(Object.values(ApprovalStatus).map(outcomeOf)).toEqual([null, 'allowed', 'denied', 'expired', 'cancelled']);
  });
});

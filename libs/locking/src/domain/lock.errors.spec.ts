import { canonicalLockOrder, LockError, LockErrorCode } from './lock.errors';

describe('canonicalLockOrder', () => {
  it('orders by code point and drops duplicates, whatever order the caller used', () => {
    const a = canonicalLockOrder(['workspace:/b', 'session:2', 'workspace:/a', 'session:2', 'Session:9']);
    const b = canonicalLockOrder(['session:2', 'workspace:/a', 'Session:9', 'workspace:/b']);
    expect(a).toEqual(['Session:9', 'session:2', 'workspace:/a', 'workspace:/b']);
    expect(b).toEqual(a);
  });
});

describe('LockError', () => {
  it('timeouts and deadlocks are retryable with Retry-After; lost leases say whether the owner took them over', () => {
    expect(LockError.timeout('r', 100)).toMatchObject({ code: LockErrorCode.LOCK_TIMEOUT, retryable: true, retryAfterSeconds: 1 });
    const deadlock = LockError.deadlock('r2', 'B', 'A waits for r2 (held or queued by B); B waits for r1 (held or queued by A)');
    expect(deadlock).toMatchObject({ code: LockErrorCode.LOCK_DEADLOCK, retryable: true, details: { resource: 'r2', owner: 'B' } });
    expect(deadlock.message).toContain('A waits for r2');
    expect(LockError.isTakeover(LockError.lost('r', 7, 'reclaimed', true))).toBe(true);
    expect(LockError.isTakeover(LockError.lost('r', 7, 'expired'))).toBe(false);
    expect(LockError.isTakeover(new Error('x'))).toBe(false);
  });
});

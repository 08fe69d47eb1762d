import { randomUUID } from 'node:crypto';
import { ApprovalGatePort, ApprovalView, ApprovalWithdrawal, PermissionAsk } from '../application/ports/approval-gate.port';

/** Unit-test double of the approval gate: approvals in memory, decided by the test (`decide`). */
export class FakeApprovalGate implements ApprovalGatePort {
  readonly approvals = new Map<string, ApprovalView>();
  private readonly waiters = new Map<string, Array<() => void>>();

  async open(ask: PermissionAsk): Promise<ApprovalView> {
    const existing = [...this.approvals.values()].find((a) => a.sessionId === ask.sessionId && (a as { requestId?: string }).requestId === ask.requestId);
    if (existing) return { ...existing };
    const approval = {
      id: randomUUID(),
      requestId: ask.requestId,
      sessionId: ask.sessionId,
      attempt: ask.attempt,
      permission: ask.permission,
      patterns: [...ask.patterns],
      title: ask.title,
      status: 'PENDING',
      remember: false,
      expiresAt: new Date(Date.now() + 60_000),
      decidedBy: null,
      answeredByKeyId: null,
    };
    this.approvals.set(approval.id, approval);
    return { ...approval };
  }

  awaitDecision(approvalId: string, signal: AbortSignal): Promise<ApprovalView> {
    return new Promise((resolve) => {
      const done = () => resolve({ ...this.approvals.get(approvalId)! });
      if (this.approvals.get(approvalId)?.status !== 'PENDING' || signal.aborted) return done();
      signal.addEventListener('abort', done, { once: true });
      this.waiters.set(approvalId, [...(this.waiters.get(approvalId) ?? []), done]);
    });
  }

  async withdraw(approvalId: string, withdrawal: ApprovalWithdrawal): Promise<ApprovalView> {
    const approval = this.approvals.get(approvalId)!;
    if (approval.status === 'PENDING') {
      if (withdrawal.kind === 'cancel') this.set(approvalId, { status: 'CANCELLED', decidedBy: 'session-ended' });
      else this.set(approvalId, { status: withdrawal.allowed ? 'ALLOWED' : 'DENIED', decidedBy: 'opencode' });
    }
    return { ...this.approvals.get(approvalId)! };
  }

  async cancelPending(sessionId: string, attempt: number): Promise<ApprovalView[]> {
    const pending = [...this.approvals.values()].filter((a) => a.sessionId === sessionId && a.attempt === attempt && a.status === 'PENDING');
    return pending.map((a) => {
      this.set(a.id, { status: 'CANCELLED', decidedBy: 'session-ended' });
      return { ...this.approvals.get(a.id)! };
    });
  }

  async awaiting(runs: ReadonlyArray<{ sessionId: string; attempt: number }>): Promise<Map<string, ApprovalView[]>> {
    const found = new Map<string, ApprovalView[]>();
    for (const a of this.approvals.values()) {
      if (a.status !== 'PENDING' || !runs.some((r) => r.sessionId === a.sessionId && r.attempt === a.attempt)) continue;
      found.set(a.sessionId, [...(found.get(a.sessionId) ?? []), { ...a }]);
    }
    return found;
  }

  sweeps = 0;

  async expireOverdue(): Promise<ApprovalView[]> {
    this.sweeps++;
    const overdue = [...this.approvals.values()].filter((a) => a.status === 'PENDING' && a.expiresAt.getTime() <= Date.now());
    return overdue.map((a) => {
      this.set(a.id, { status: 'EXPIRED', decidedBy: 'timeout' });
      return { ...this.approvals.get(a.id)! };
    });
  }

  /** An answer through the API (or an expiry): wakes the waiting run. */
  decide(approvalId: string, change: Partial<ApprovalView>): void {
    this.set(approvalId, change);
    for (const wake of this.waiters.get(approvalId) ?? []) wake();
    this.waiters.delete(approvalId);
  }

  /** Resolves once the session has a PENDING approval; returns it. */
  async pendingOf(sessionId: string): Promise<ApprovalView> {
    for (let i = 0; i < 400; i++) {
      const found = [...this.approvals.values()].find((a) => a.sessionId === sessionId && a.status === 'PENDING');
      if (found) return found;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no pending approval for session ${sessionId}`);
  }

  private set(approvalId: string, change: Partial<ApprovalView>): void {
    this.approvals.set(approvalId, { ...this.approvals.get(approvalId)!, ...change });
  }
}

import { Injectable } from '@nestjs/common';
import { Approval, ApprovalService } from '@app/approval';
import type {
  ApprovalGatePort,
  ApprovalView,
  ApprovalWithdrawal,
  PermissionAsk,
} from '../../application/ports/approval-gate.port';

/** The session context's view of the approval context. */
@Injectable()
export class ApprovalServiceGate implements ApprovalGatePort {
  constructor(private readonly approvals: ApprovalService) {}

  async open(ask: PermissionAsk): Promise<ApprovalView> {
    const approval = await this.approvals.open({
      sessionId: ask.sessionId,
      attempt: ask.attempt,
      opencodeRequestId: ask.requestId,
      permission: ask.permission,
      patterns: ask.patterns,
      title: ask.title,
      metadata: ask.metadata,
    });
    return toView(approval);
  }

  async awaitDecision(approvalId: string, signal: AbortSignal): Promise<ApprovalView> {
    return toView(await this.approvals.awaitDecision(approvalId, signal));
  }

  async withdraw(approvalId: string, withdrawal: ApprovalWithdrawal): Promise<ApprovalView> {
    return toView(await this.approvals.withdraw(approvalId, withdrawal));
  }

  async cancelPending(sessionId: string, attempt: number): Promise<ApprovalView[]> {
    return (await this.approvals.cancelPendingOfRun({ sessionId, attempt })).map(toView);
  }

  async awaiting(runs: ReadonlyArray<{ sessionId: string; attempt: number }>): Promise<Map<string, ApprovalView[]>> {
    const bySession = new Map<string, ApprovalView[]>();
    for (const approval of await this.approvals.pendingOfRuns(runs)) {
      const list = bySession.get(approval.sessionId) ?? [];
      list.push(toView(approval));
      bySession.set(approval.sessionId, list);
    }
    return bySession;
  }

  async expireOverdue(): Promise<ApprovalView[]> {
    return (await this.approvals.expireOverdue()).map(toView);
  }
}

function toView(approval: Approval): ApprovalView {
  const a = approval.snapshot();
  return {
    id: a.id,
    sessionId: a.sessionId,
    attempt: a.attempt,
    permission: a.permission,
    patterns: [...a.patterns],
    title: a.title,
    status: a.status,
    remember: a.remember,
    expiresAt: a.expiresAt,
    decidedBy: a.decidedBy,
    answeredByKeyId: a.answeredByKeyId,
  };
}

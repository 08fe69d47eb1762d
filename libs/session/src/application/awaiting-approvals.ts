import { Inject, Injectable, Optional } from '@nestjs/common';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { APPROVAL_GATE, ApprovalGatePort, ApprovalView } from './ports/approval-gate.port';

/**
 * What sessions wait for: the PENDING approvals of each RUNNING session's current attempt, in
 * one read for a whole page (sessions that do not run wait for nothing and cost no query).
 */
@Injectable()
export class AwaitingApprovals {
  constructor(@Optional() @Inject(APPROVAL_GATE) private readonly gate: ApprovalGatePort | null = null) {}

  async of(sessions: readonly Session[]): Promise<Map<string, ApprovalView[]>> {
    const runs = sessions.filter((s) => s.status === SessionStatus.RUNNING).map((s) => ({ sessionId: s.id, attempt: s.attempt }));
    if (!this.gate || runs.length === 0) return new Map();
    return this.gate.awaiting(runs);
  }

  async ofOne(session: Session): Promise<ApprovalView[]> {
    return (await this.of([session])).get(session.id) ?? [];
  }
}

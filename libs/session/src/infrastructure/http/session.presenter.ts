import type { ApprovalView } from '../../application/ports/approval-gate.port';
import { SessionEventRecord } from '../../application/ports/session.repository.port';
import { Session } from '../../domain/session';
import { AwaitingApprovalDto, SessionEventDto, SessionResponseDto } from './dto/session.dto';

/** `awaitingApproval`: what the session's run waits on (see AwaitingApprovals); none when not given. */
export function presentSession(session: Session, awaitingApproval: readonly ApprovalView[] = []): SessionResponseDto {
  const { deletedAt: _d, opencodeMessageId: _m, opencodeAgent, ...visible } = session.snapshot();
  return { ...visible, agent: opencodeAgent, awaitingApproval: awaitingApproval.map(presentAwaiting) };
}

function presentAwaiting({ id, permission, patterns, title, expiresAt }: ApprovalView): AwaitingApprovalDto {
  return { id, permission, patterns: [...patterns], title, expiresAt };
}

export function presentEvent({ sessionId: _s, ...event }: SessionEventRecord): SessionEventDto {
  return event;
}

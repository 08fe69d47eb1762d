import type { ApprovalView } from '../../application/ports/approval-gate.port';
import { SessionEventRecord } from '../../application/ports/session.repository.port';
import { Session } from '../../domain/session';
import type { SessionWorktree } from '../../domain/session-worktree';
import { AwaitingApprovalDto, SessionEventDto, SessionResponseDto } from './dto/session.dto';
import { SessionChangesDto, SessionWorktreeDto } from './dto/session-worktree.dto';

/** `awaitingApproval`: what the session's run waits on (see AwaitingApprovals); none when not given. */
export function presentSession(session: Session, awaitingApproval: readonly ApprovalView[] = []): SessionResponseDto {
  const { deletedAt: _d, opencodeMessageId: _m, opencodeAgent, worktree, ...visible } = session.snapshot();
  return { ...visible, agent: opencodeAgent, ...presentWorktree(worktree), awaitingApproval: awaitingApproval.map(presentAwaiting) };
}

function presentWorktree(worktree: SessionWorktree | null): { changes: SessionChangesDto | null; worktree: SessionWorktreeDto | null } {
  if (!worktree) return { changes: null, worktree: null };
  const { branch, baseCommit, headCommit, files, insertions, deletions, state, repository, subdirectory, baseRef, mergeIn, merge } = worktree;
  return {
    changes: { branch, baseCommit, headCommit, files: [...files], insertions, deletions },
    worktree: { state, repository, subdirectory, baseRef, mergeIn, merge },
  };
}

function presentAwaiting({ id, permission, patterns, title, expiresAt }: ApprovalView): AwaitingApprovalDto {
  return { id, permission, patterns: [...patterns], title, expiresAt };
}

export function presentEvent({ sessionId: _s, ...event }: SessionEventRecord): SessionEventDto {
  return event;
}

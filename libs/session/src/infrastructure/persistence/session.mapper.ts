import { Session } from '../../domain/session';
import { completeAssignment } from '../../domain/session-agent';
import { API_ORIGIN, SessionOrigin } from '../../domain/session-origin';
import { SessionStatus } from '../../domain/session-status';
import { SessionIsolation, SessionWorktree } from '../../domain/session-worktree';
import { SessionOrmEntity } from './session.orm-entity';

export const SessionMapper = {
  toDomain(row: SessionOrmEntity): Session {
    const { agent, originPlanId, originTaskKey, originRetryOf, ...columns } = row;
    return Session.restore({
      ...columns,
      opencodeAgent: agent,
      status: row.status as SessionStatus,
      isolation: row.isolation as SessionIsolation,
      worktree: reviveWorktree(row.worktree),
      metadata: row.metadata ?? {},
      origin: originPlanId && originTaskKey ? { kind: 'plan', planId: originPlanId, taskKey: originTaskKey, retryOf: originRetryOf } : API_ORIGIN,
      // Rows from before readOnly and permissions were snapshotted get them derived.
      assignment: row.assignment ? completeAssignment(row.assignment) : null,
    });
  },

  toRow(session: Session): SessionOrmEntity {
    const { opencodeAgent, origin, ...props } = session.snapshot();
    return Object.assign(new SessionOrmEntity(), props, { agent: opencodeAgent }, originColumns(origin));
  },
};

function originColumns(origin: SessionOrigin): Pick<SessionOrmEntity, 'originPlanId' | 'originTaskKey' | 'originRetryOf'> {
  return origin.kind === 'plan'
    ? { originPlanId: origin.planId, originTaskKey: origin.taskKey, originRetryOf: origin.retryOf }
    : { originPlanId: null, originTaskKey: null, originRetryOf: null };
}

function reviveWorktree(worktree: SessionWorktree | null): SessionWorktree | null {
  if (!worktree) return null;
  return { ...worktree, merge: worktree.merge ? { ...worktree.merge, at: new Date(worktree.merge.at) } : null };
}

import { Session } from '../../domain/session';
import { completeAssignment } from '../../domain/session-agent';
import { SessionStatus } from '../../domain/session-status';
import { SessionOrmEntity } from './session.orm-entity';

export const SessionMapper = {
  toDomain(row: SessionOrmEntity): Session {
    return Session.restore({
      ...row,
      status: row.status as SessionStatus,
      metadata: row.metadata ?? {},
      // Rows from before readOnly and permissions were snapshotted get them derived.
      assignment: row.assignment ? completeAssignment(row.assignment) : null,
    });
  },

  toRow(session: Session): SessionOrmEntity {
    const s = session.snapshot();
    return Object.assign(new SessionOrmEntity(), s);
  },
};

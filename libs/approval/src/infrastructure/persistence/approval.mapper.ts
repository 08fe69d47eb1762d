import { Approval } from '../../domain/approval';
import { ApprovalDecider, ApprovalStatus } from '../../domain/approval-status';
import { ApprovalOrmEntity } from './approval.orm-entity';

export const ApprovalMapper = {
  toDomain(row: ApprovalOrmEntity): Approval {
    return Approval.restore({
      ...row,
      status: row.status as ApprovalStatus,
      decidedBy: row.decidedBy as ApprovalDecider | null,
      patterns: row.patterns ?? [],
      metadata: row.metadata ?? {},
      version: Number(row.version),
    });
  },

  toRow(approval: Approval): ApprovalOrmEntity {
    return Object.assign(new ApprovalOrmEntity(), approval.snapshot());
  },
};

import { Column, Entity, Index, PrimaryColumn, Unique } from 'typeorm';

@Entity({ name: 'approvals' })
@Unique('ux_approvals_session_request', ['sessionId', 'opencodeRequestId'])
@Index('idx_approvals_session', ['sessionId', 'attempt'])
@Index('idx_approvals_created', ['createdAt', 'id'])
export class ApprovalOrmEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'session_id' }) sessionId: string;
  @Column('integer') attempt: number;
  @Column('varchar', { name: 'opencode_request_id', length: 100 }) opencodeRequestId: string;
  @Column('varchar', { length: 100 }) permission: string;
  @Column('jsonb') patterns: string[];
  @Column('varchar', { length: 300 }) title: string;
  @Column('jsonb') metadata: Record<string, unknown>;
  @Column('varchar', { length: 20 }) status: string;
  @Column('boolean') remember: boolean;
  @Column('timestamptz', { name: 'created_at' }) createdAt: Date;
  @Column('timestamptz', { name: 'expires_at' }) expiresAt: Date;
  @Column('timestamptz', { name: 'answered_at', nullable: true }) answeredAt: Date | null;
  @Column('text', { name: 'answered_by_key_id', nullable: true }) answeredByKeyId: string | null;
  @Column('varchar', { name: 'decided_by', length: 20, nullable: true }) decidedBy: string | null;
  @Column('integer') version: number;
}

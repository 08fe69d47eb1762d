import type { Budget } from '@app/shared';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';

/** The schema is made by migrations/1767000000000-create-api-keys.ts; these mirror it. */
@Entity({ name: 'api_keys' })
@Index('ux_api_keys_key_hash', { synchronize: false })
export class ApiKeyOrmEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('varchar', { length: 100 }) name: string;
  @Column('varchar', { length: 20 }) role: string;
  @Column('jsonb', { name: 'workspace_roots', nullable: true }) workspaceRoots: string[] | null;
  @Column('char', { name: 'key_hash', length: 64 }) keyHash: string;
  @Column('varchar', { length: 16 }) prefix: string;
  @Column('timestamptz', { name: 'expires_at', nullable: true }) expiresAt: Date | null;
  @Column('timestamptz', { name: 'revoked_at', nullable: true }) revokedAt: Date | null;
  @Column('text', { name: 'created_by_key_id', nullable: true }) createdByKeyId: string | null;
  /** Added by migrations/1770000000001-agent-key-budgets.ts. */
  @Column('jsonb', { nullable: true }) budget: Budget | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @VersionColumn() version: number;
}

import {
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import type { RunFailure, RunResult, TokenUsage, Budget } from '@app/shared';
import type { SessionAgentAssignment } from '../../domain/session-agent';
import type { SessionWorktree } from '../../domain/session-worktree';

@Entity({ name: 'sessions' })
@Index('idx_sessions_created', ['createdAt', 'id'])
@Index('idx_sessions_status_updated', ['status', 'updatedAt'])
@Index('idx_sessions_origin_plan', ['originPlanId'], { where: 'origin_plan_id IS NOT NULL' })
export class SessionOrmEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('varchar', { length: 200 }) title: string;
  @Column('text') prompt: string;
  @Column('text') workspace: string;
  @Column('varchar', { length: 100 }) agent: string;
  @Column('varchar', { length: 200, nullable: true }) model: string | null;
  @Column('varchar', { name: 'model_used', length: 200, nullable: true }) modelUsed: string | null;
  @Column('jsonb', { nullable: true }) budget: Budget | null;
  @Column('uuid', { name: 'agent_id', nullable: true }) agentId: string | null;
  @Column('jsonb', { name: 'agent_assignment', nullable: true }) assignment: SessionAgentAssignment | null;
  @Column('integer', { name: 'timeout_seconds' }) timeoutSeconds: number;
  @Column('jsonb', { default: () => "'{}'::jsonb" }) metadata: Record<string, unknown>;
  /** Set for a session a plan made for one of its tasks (SessionOrigin 'plan'); null otherwise. */
  @Column('uuid', { name: 'origin_plan_id', nullable: true }) originPlanId: string | null;
  @Column('varchar', { name: 'origin_task_key', length: 64, nullable: true }) originTaskKey: string | null;
  @Column('uuid', { name: 'origin_retry_of', nullable: true }) originRetryOf: string | null;
  @Column('text', { name: 'created_by_key_id', nullable: true }) createdByKeyId: string | null;
  @Column('varchar', { length: 10, default: 'shared' }) isolation: string;
  /** Dates inside (merge.at) come back from jsonb as strings: the mapper revives them. */
  @Column('jsonb', { nullable: true }) worktree: SessionWorktree | null;
  @Column('varchar', { length: 20 }) status: string;
  @Column('integer') attempt: number;
  @Column('varchar', { name: 'opencode_session_id', length: 100, nullable: true }) opencodeSessionId: string | null;
  @Column('varchar', { name: 'opencode_message_id', length: 100, nullable: true }) opencodeMessageId: string | null;
  @Column('varchar', { name: 'opencode_server_id', length: 100, nullable: true }) opencodeServerId: string | null;
  @Column('jsonb', { nullable: true }) result: RunResult | null;
  @Column('jsonb', { nullable: true }) usage: TokenUsage | null;
  @Column('jsonb', { nullable: true }) error: RunFailure | null;
  @Column('timestamptz', { name: 'cancel_requested_at', nullable: true }) cancelRequestedAt: Date | null;
  @Column('timestamptz', { name: 'queued_at', nullable: true }) queuedAt: Date | null;
  @Column('timestamptz', { name: 'waiting_since', nullable: true }) waitingSince: Date | null;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt: Date | null;
  @Column('timestamptz', { name: 'pruned_at', nullable: true }) prunedAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' }) deletedAt: Date | null;
  @VersionColumn() version: number;
}

/** Append-only history of transitions. */
@Entity({ name: 'session_events' })
@Index('idx_session_events_session', ['sessionId', 'at'])
export class SessionEventOrmEntity {
  /** Identity order is insertion order: the history reads back exactly as it was written. */
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column('uuid', { name: 'session_id' }) sessionId: string;
  @Column('varchar', { name: 'from_status', length: 20, nullable: true }) from: string | null;
  @Column('varchar', { name: 'to_status', length: 20 }) to: string;
  @Column('text') reason: string;
  @Column('integer') attempt: number;
  @Column('timestamptz') at: Date;
}

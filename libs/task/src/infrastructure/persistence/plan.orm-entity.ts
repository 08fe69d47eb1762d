import type { Budget, RunFailure, RunResult, TokenUsage } from '@app/shared';
import { Column, CreateDateColumn, DeleteDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn, VersionColumn } from 'typeorm';
import type { ComplexityAnalysis } from '../../domain/complexity';
import type { PlanAnalysis } from '../../domain/dag';
import type { TaskSessionRef } from '../../domain/plan';
import type { PlanBranch, TaskMerge } from '../../domain/plan-branch';

/** A task's merge state as stored: its dates as ISO strings. */
export type TaskMergeRow = Omit<TaskMerge, 'queuedAt' | 'mergedAt'> & { queuedAt: string; mergedAt: string | null };

@Entity({ name: 'plans' })
@Index('idx_plans_created', ['createdAt', 'id'])
export class PlanOrmEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('text') requirement: string;
  @Column('text') workspace: string;
  @Column('varchar', { length: 20, nullable: true }) template: string | null;
  @Column('text', { name: 'chosen_because' }) chosenBecause: string;
  @Column('jsonb') complexity: ComplexityAnalysis;
  @Column('jsonb') analysis: PlanAnalysis;
  @Column('integer', { name: 'max_concurrent_sessions' }) maxParallelTasks: number;
  @Column('text', { name: 'created_by_key_id', nullable: true }) createdByKeyId: string | null;
  @Column('jsonb', { nullable: true }) branch: PlanBranch | null;
  @Column('jsonb', { nullable: true }) budget: Budget | null;
  @Column('varchar', { length: 20 }) status: string;
  @Column('varchar', { name: 'paused_reason', length: 20, nullable: true }) pausedReason: string | null;
  @Column('text', { name: 'paused_message', nullable: true }) pausedMessage: string | null;
  @Column('jsonb', { nullable: true }) error: RunFailure | null;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' }) deletedAt: Date | null;
  @VersionColumn() version: number;
}

@Entity({ name: 'plan_tasks' })
@Index('ux_plan_tasks_plan_key', ['planId', 'key'], { unique: true })
export class PlanTaskOrmEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('uuid', { name: 'plan_id' }) planId: string;
  @Column('varchar', { length: 64 }) key: string;
  @Column('integer') position: number;
  @Column('varchar', { length: 200 }) title: string;
  @Column('text') instructions: string;
  @Column('varchar', { length: 20 }) role: string;
  @Column('jsonb') skills: string[];
  @Column('integer') complexity: number;
  @Column('integer', { name: 'estimate_minutes' }) estimateMinutes: number;
  @Column('jsonb', { name: 'depends_on' }) dependsOn: string[];
  @Column('varchar', { length: 20 }) status: string;
  @Column('uuid', { name: 'session_id', nullable: true }) sessionId: string | null;
  @Column('jsonb') sessions: Array<Omit<TaskSessionRef, 'createdAt'> & { createdAt: string }>;
  @Column('integer') attempt: number;
  @Column('uuid', { name: 'agent_id', nullable: true }) agentId: string | null;
  @Column('jsonb', { nullable: true }) result: RunResult | null;
  @Column('jsonb', { nullable: true }) usage: TokenUsage | null;
  @Column('jsonb', { nullable: true }) error: RunFailure | null;
  @Column('jsonb', { nullable: true }) merge: TaskMergeRow | null;
  @Column('timestamptz', { name: 'started_at', nullable: true }) startedAt: Date | null;
  @Column('timestamptz', { name: 'finished_at', nullable: true }) finishedAt: Date | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @VersionColumn() version: number;
}

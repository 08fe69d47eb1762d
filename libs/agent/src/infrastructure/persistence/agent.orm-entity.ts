import {
  Column,
  CreateDateColumn,
  DeleteDateColumn,
  Entity,
  Index,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  Unique,
  UpdateDateColumn,
  ValueTransformer,
  VersionColumn,
} from 'typeorm';
import type { Budget } from '@app/shared';
import type { PermissionAction } from '../../domain/agent';
import type { Capability } from '../../domain/capability';

/** pg returns numeric and bigint as strings; the figures are plain numbers. */
const asNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? null : Number(value)),
};

/** The schema is made by migrations/1765000000000-create-agents.ts; these mirror it. */
@Entity({ name: 'agents' })
@Index('ux_agents_name_live', { synchronize: false })
export class AgentOrmEntity {
  @PrimaryColumn('uuid') id: string;
  @Column('varchar', { length: 100 }) name: string;
  @Column('varchar', { length: 20 }) role: string;
  @Column('jsonb', { default: () => "'[]'::jsonb" }) capabilities: Capability[];
  @Column('integer', { name: 'max_concurrent_sessions' }) maxConcurrentSessions: number;
  @Column('boolean', { default: true }) enabled: boolean;
  @Column('varchar', { name: 'opencode_agent', length: 64 }) opencodeAgent: string;
  @Column('varchar', { length: 200, nullable: true }) model: string | null;
  @Column('text', { name: 'system_instructions', default: '' }) systemInstructions: string;
  @Column('jsonb', { name: 'disabled_tools', default: () => "'[]'::jsonb" }) disabledTools: string[];
  /** Added by migrations/1767000000001-agent-binding-permissions.ts. */
  @Column('jsonb', { default: () => "'{}'::jsonb" }) permissions: Record<string, PermissionAction>;
  /** These three: added by migrations/1770000000001-agent-key-budgets.ts. */
  @Column('jsonb', { name: 'fallback_models', default: () => "'[]'::jsonb" }) fallbackModels: string[];
  @Column('integer', { name: 'max_steps', nullable: true }) maxSteps: number | null;
  @Column('jsonb', { nullable: true }) budget: Budget | null;
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' }) createdAt: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' }) updatedAt: Date;
  @DeleteDateColumn({ name: 'deleted_at', type: 'timestamptz' }) deletedAt: Date | null;
  @VersionColumn() version: number;
  /** Filled by the routing snapshot's join; not a column. */
  stats?: AgentStatsOrmEntity | null;
}

/** One finished session attempt of an agent. */
@Entity({ name: 'agent_runs' })
@Unique('ux_agent_runs_session_attempt', ['sessionId', 'attempt'])
@Index('idx_agent_runs_agent_finished', { synchronize: false })
export class AgentRunOrmEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' }) id: string;
  @Column('uuid', { name: 'agent_id' }) agentId: string;
  @Column('uuid', { name: 'session_id' }) sessionId: string;
  @Column('integer') attempt: number;
  @Column('varchar', { length: 20 }) outcome: string;
  @Column('integer', { name: 'duration_ms' }) durationMs: number;
  @Column('bigint', { name: 'input_tokens', transformer: asNumber }) inputTokens: number;
  @Column('bigint', { name: 'output_tokens', transformer: asNumber }) outputTokens: number;
  @Column('numeric', { name: 'cost_usd', transformer: asNumber }) costUsd: number;
  @Column('numeric', { name: 'quality_score', nullable: true, transformer: asNumber }) qualityScore: number | null;
  @Column('timestamptz', { name: 'finished_at' }) finishedAt: Date;
}

/**
 * Per-agent figures kept in step with agent_runs by each run's transaction: the recent window
 * (the last RECENT_RUNS counted runs) recomputed, the totals incremented.
 */
@Entity({ name: 'agent_stats' })
export class AgentStatsOrmEntity {
  @PrimaryColumn('uuid', { name: 'agent_id' }) agentId: string;
  @Column('integer', { name: 'recent_runs' }) recentRuns: number;
  @Column('integer', { name: 'recent_successes' }) recentSuccesses: number;
  @Column('integer', { name: 'recent_scored_runs' }) recentScoredRuns: number;
  @Column('double precision', { name: 'recent_quality_sum' }) recentQualitySum: number;
  @Column('double precision', { name: 'recent_cost_sum_usd' }) recentCostSumUsd: number;
  @Column('double precision', { name: 'recent_p50_duration_ms', nullable: true }) recentP50DurationMs: number | null;
  @Column('double precision', { name: 'recent_p95_duration_ms', nullable: true }) recentP95DurationMs: number | null;
  @Column('integer', { name: 'total_runs' }) totalRuns: number;
  @Column('integer', { name: 'total_successes' }) totalSuccesses: number;
  @Column('integer', { name: 'total_cancelled' }) totalCancelled: number;
  @Column('integer', { name: 'total_scored_runs' }) totalScoredRuns: number;
  @Column('double precision', { name: 'total_quality_sum' }) totalQualitySum: number;
  @Column('double precision', { name: 'total_cost_sum_usd' }) totalCostSumUsd: number;
  @Column('varchar', { length: 20 }) tier: string;
  @Column('timestamptz', { name: 'updated_at' }) updatedAt: Date;
}

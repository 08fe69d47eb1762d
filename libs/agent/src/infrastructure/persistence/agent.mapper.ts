import { Agent } from '../../domain/agent';
import { AgentRole } from '../../domain/agent-role';
import { EMPTY_SUMMARY, PerformanceSummary } from '../../domain/performance';
import { AgentOrmEntity, AgentStatsOrmEntity } from './agent.orm-entity';

export const AgentMapper = {
  toDomain(row: AgentOrmEntity): Agent {
    return Agent.restore({
      id: row.id,
      name: row.name,
      role: row.role as AgentRole,
      capabilities: row.capabilities ?? [],
      maxConcurrentSessions: row.maxConcurrentSessions,
      enabled: row.enabled,
      binding: {
        opencodeAgent: row.opencodeAgent,
        model: row.model,
        systemInstructions: row.systemInstructions,
        disabledTools: row.disabledTools ?? [],
        permissions: row.permissions ?? {},
        fallbackModels: row.fallbackModels ?? [],
        maxSteps: row.maxSteps ?? null,
      },
      budget: row.budget ?? null,
      version: row.version,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    });
  },

  toRow(agent: Agent): AgentOrmEntity {
    const { binding, ...props } = agent.snapshot();
    return Object.assign(new AgentOrmEntity(), { ...props, ...binding, deletedAt: null });
  },

  /** The recent window kept in agent_stats, as routing reads it; no row yet means no runs yet. */
  recentOf(stats: AgentStatsOrmEntity | null | undefined): PerformanceSummary {
    if (!stats || stats.recentRuns === 0) return EMPTY_SUMMARY;
    const runs = stats.recentRuns;
    const successes = stats.recentSuccesses;
    return {
      runs,
      successes,
      successRate: successes / runs,
      meanQuality: stats.recentScoredRuns ? stats.recentQualitySum / stats.recentScoredRuns : null,
      scoredRuns: stats.recentScoredRuns,
      meanCostUsd: stats.recentCostSumUsd / runs,
      costPerSuccessUsd: successes ? stats.recentCostSumUsd / successes : null,
      p50DurationMs: stats.recentP50DurationMs,
      p95DurationMs: stats.recentP95DurationMs,
    };
  },
};

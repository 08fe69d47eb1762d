import { Inject, Injectable } from '@nestjs/common';
import { AGENT_PERFORMANCE, AgentPerformancePort, AgentRole, AgentService, RECENT_RUNS } from '@app/agent';
import type { AgentRunHistory } from '../../domain/budget-forecast';
import { AgentRunHistoryPort, TaskWork } from '../../application/ports/agent-run-history.port';

/**
 * The agent routing would pick for a task (the best ranked, as a session's creation picks it; a
 * task whose skills no agent of its role has falls back to the role alone, as LifecycleTaskSessions
 * does) and its figures over its last RECENT_RUNS counted runs.
 */
@Injectable()
export class AgentServiceRunHistory implements AgentRunHistoryPort {
  constructor(
    private readonly agents: AgentService,
    @Inject(AGENT_PERFORMANCE) private readonly performance: AgentPerformancePort,
  ) {}

  async historyFor(work: TaskWork): Promise<AgentRunHistory | null> {
    // A task role is an agent role by name (the session context routes it the same way).
    const role = work.role as AgentRole;
    let best = (await this.agents.route({ role, skills: work.skills, complexity: work.complexity })).ranked[0];
    if (!best && work.skills.length > 0) best = (await this.agents.route({ role, skills: [], complexity: work.complexity })).ranked[0];
    if (!best) return null;
    const { recent } = await this.performance.summary(best.agentId, RECENT_RUNS);
    return {
      agentId: best.agentId,
      runs: recent.runs,
      costUsdPerRun: recent.meanCostUsd,
      minutesPerRun: recent.p50DurationMs === null ? null : recent.p50DurationMs / 60_000,
      meanComplexity: null,
    };
  }
}

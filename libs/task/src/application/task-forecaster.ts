import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import type { PlanTask } from '../domain/plan';
import { forecastTask, TaskForecast } from '../domain/budget-forecast';
import { AGENT_RUN_HISTORY, AgentRunHistoryPort } from './ports/agent-run-history.port';
import { PLAN_REPOSITORY, PlanRepositoryPort } from './ports/plan.repository.port';

/** The agent's recent plan tasks that set its mean complexity (as many as its recent runs). */
const COMPLEXITY_WINDOW = 50;

/** A task's forecast (see forecastTask) from the agent routing would pick for it now. */
@Injectable()
export class TaskForecaster {
  constructor(
    @Inject(AGENT_RUN_HISTORY) private readonly history: AgentRunHistoryPort,
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepositoryPort,
    private readonly config: AppConfig,
  ) {}

  async forecast(task: PlanTask, role = task.spec.role): Promise<TaskForecast> {
    const spec = task.spec;
    const history = await this.history.historyFor({ role, skills: spec.skills, complexity: spec.complexity });
    if (history && history.runs > 0 && history.meanComplexity === null) {
      history.meanComplexity = await this.plans.meanComplexityOf(history.agentId, COMPLEXITY_WINDOW);
    }
    return forecastTask(spec, history, { costUsdPerComplexity: this.config.capacity.taskCostPriorUsd });
  }
}

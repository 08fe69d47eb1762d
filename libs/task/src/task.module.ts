import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '@app/config';
import { LockingModule } from '@app/locking';
import { MaintenanceModule } from '@app/platform';
import { SessionModule } from '@app/session';
import { AgentModule } from '@app/agent';
import { SpendingModule } from '@app/spending';
import { WorkspaceModule } from '@app/workspace';
import { IntegrationBranches } from './application/integration-branches';
import { DEFAULT_PLAN_MERGE_SETTINGS, PLAN_MERGE_SETTINGS, PlanMergeSettings } from './application/plan-merge-settings';
import { PlanKicker } from './application/plan-kicker';
import { PlanScheduler } from './application/plan-scheduler';
import { PlanService } from './application/plan.service';
import { PLAN_REPOSITORY } from './application/ports/plan.repository.port';
import { TASK_SESSIONS } from './application/ports/task-sessions.port';
import { AGENT_RUN_HISTORY } from './application/ports/agent-run-history.port';
import { PLAN_SPENDING } from './application/ports/plan-spending.port';
import { TaskForecaster } from './application/task-forecaster';
import { AgentServiceRunHistory } from './infrastructure/clients/agent-service-run-history.adapter';
import { SpendingServicePlanSpending } from './infrastructure/clients/spending-service-plan-spending.adapter';
import { TaskMerges } from './application/task-merges';
import { LifecycleTaskSessions } from './infrastructure/clients/lifecycle-task-sessions.adapter';
import { PlansController } from './infrastructure/http/plans.controller';
import { PlanSchedulerLoop } from './infrastructure/jobs/plan-scheduler.loop';
import { PlanRetentionSchedule } from './infrastructure/jobs/plan-retention.schedule';
import { PlanRetentionService } from './application/plan-retention.service';
import { PLAN_RETENTION_METRICS } from './application/ports/retention-metrics.port';
import { PlanRetentionMetrics } from './infrastructure/metrics/plan-retention-metrics';
import { TASK_ENTITIES } from './infrastructure/persistence/task-entities';
import { PlanGauges } from './infrastructure/persistence/plan-gauges';
import { TypeormPlanRepository } from './infrastructure/persistence/typeorm-plan.repository';

const ports = [
  { provide: PLAN_REPOSITORY, useClass: TypeormPlanRepository },
  { provide: TASK_SESSIONS, useClass: LifecycleTaskSessions },
  { provide: PLAN_SPENDING, useClass: SpendingServicePlanSpending },
  { provide: AGENT_RUN_HISTORY, useClass: AgentServiceRunHistory },
  {
    provide: PLAN_MERGE_SETTINGS,
    inject: [AppConfig],
    useFactory: (config: AppConfig): PlanMergeSettings => ({
      ...DEFAULT_PLAN_MERGE_SETTINGS,
      resolverTries: config.worktrees.resolverTries,
      author: config.worktrees.author,
    }),
  },
];

export interface TaskModuleOptions {
  /** Run the plan scheduler loop and plan retention in this process: where the session worker runs. */
  scheduler: boolean;
}

/** Plans: decomposition or the user's graph, /api/v1/plans, and (with `scheduler`) their execution. */
@Module({})
export class TaskModule {
  static forRoot(options: TaskModuleOptions): DynamicModule {
    return {
      module: TaskModule,
      // SessionModule: the session use cases behind TASK_SESSIONS, and its transitions for the loop.
      // AgentModule: routing and figures for a task's forecast; SpendingModule: a plan's spend and its budget's guard.
      // MaintenanceModule (scheduler only): the periodic jobs plan retention runs as.
      imports: [
        TypeOrmModule.forFeature(TASK_ENTITIES),
        SessionModule,
        AgentModule,
        SpendingModule,
        LockingModule,
        WorkspaceModule,
        ...(options.scheduler ? [MaintenanceModule] : []),
      ],
      controllers: [PlansController],
      providers: [
        ...ports,
        PlanKicker,
        IntegrationBranches,
        TaskMerges,
        TaskForecaster,
        PlanScheduler,
        PlanService,
        PlanGauges,
        ...(options.scheduler
          ? [PlanSchedulerLoop, PlanRetentionService, PlanRetentionSchedule, { provide: PLAN_RETENTION_METRICS, useClass: PlanRetentionMetrics }]
          : []),
      ],
    };
  }
}

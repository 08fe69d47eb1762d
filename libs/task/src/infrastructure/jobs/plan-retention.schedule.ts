import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { MaintenanceJobs } from '@app/platform';
import { PlanRetentionService } from '../../application/plan-retention.service';

/** The maintenance job's name: the fixed id of its schedule, the same in every worker. */
export const PLAN_RETENTION_JOB = 'plan-retention';
/** How often retention runs (and once when a worker starts). */
export const PLAN_RETENTION_EVERY_MS = 60 * 60_000;

/**
 * Plan retention as a periodic maintenance job: one run per hour across all workers, none with
 * RETENTION_DAYS=0 (its schedule is then removed).
 */
@Injectable()
export class PlanRetentionSchedule implements OnModuleInit {
  constructor(
    private readonly jobs: MaintenanceJobs,
    private readonly retention: PlanRetentionService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.register({
      name: PLAN_RETENTION_JOB,
      everyMs: this.config.retention.days > 0 ? PLAN_RETENTION_EVERY_MS : null,
      run: async (signal) => {
        await this.retention.prune(new Date(), signal);
      },
    });
  }
}

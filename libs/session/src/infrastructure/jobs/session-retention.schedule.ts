import { Injectable, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { MaintenanceJobs } from '@app/platform';
import { SessionRetentionService } from '../../application/session-retention.service';

/** The maintenance job's name: the fixed id of its schedule, the same in every worker. */
export const SESSION_RETENTION_JOB = 'session-retention';
/** How often retention runs (and once when a worker starts). */
export const SESSION_RETENTION_EVERY_MS = 60 * 60_000;

/**
 * Session retention as a periodic maintenance job: one run per hour across all workers, none
 * with RETENTION_DAYS=0 (its schedule is then removed).
 */
@Injectable()
export class SessionRetentionSchedule implements OnModuleInit {
  constructor(
    private readonly jobs: MaintenanceJobs,
    private readonly retention: SessionRetentionService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.jobs.register({
      name: SESSION_RETENTION_JOB,
      everyMs: this.config.retention.days > 0 ? SESSION_RETENTION_EVERY_MS : null,
      run: async (signal) => {
        await this.retention.prune(new Date(), signal);
      },
    });
  }
}

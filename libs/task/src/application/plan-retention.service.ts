import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { inRetentionBatches, retentionCutoff } from '@app/shared';
import { PLAN_REPOSITORY, PlanRepositoryPort, PrunablePlanCursor } from './ports/plan.repository.port';
import { PLAN_RETENTION_METRICS, PlanRetentionMetricsPort } from './ports/retention-metrics.port';
import { TASK_SESSIONS, TaskSessionsPort } from './ports/task-sessions.port';

/** The most batches one run looks at; what is left waits for the next run. */
export const PLAN_RETENTION_MAX_BATCHES = 100;

export interface PlanRetentionReport {
  /** Plans that ended before this were due; null: retention is off (RETENTION_DAYS=0). */
  cutoff: Date | null;
  plans: number;
  tasks: number;
  /** Due plans kept because a session of theirs has not finished (or a writer held them): tried again next run. */
  kept: number;
  /** False when the run stopped at its batch cap or at shutdown with plans left to look at. */
  complete: boolean;
}

/**
 * Retention of plans (README, Retention): RETENTION_DAYS after a plan finished (or after its user
 * deleted it, for a DRAFT), the plan and its tasks are deleted, once no session of its tasks is
 * still running. The sessions stay (with their origin, the plan's id) and so does the plan's
 * spending in the ledger. In batches of RETENTION_BATCH_SIZE plans, each deleted in one short
 * transaction, up to PLAN_RETENTION_MAX_BATCHES per run.
 */
@Injectable()
export class PlanRetentionService {
  private readonly logger = new Logger(PlanRetentionService.name);

  constructor(
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepositoryPort,
    @Inject(TASK_SESSIONS) private readonly sessions: TaskSessionsPort,
    private readonly config: AppConfig,
    @Optional() @Inject(PLAN_RETENTION_METRICS) private readonly metrics?: PlanRetentionMetricsPort,
  ) {}

  /** One run; `signal` stops it between two batches (the process shuts down). */
  async prune(now = new Date(), signal?: AbortSignal): Promise<PlanRetentionReport> {
    const { days, batchSize } = this.config.retention;
    if (days === 0) return { cutoff: null, plans: 0, tasks: 0, kept: 0, complete: true };
    const cutoff = retentionCutoff(now, days);
    const report: PlanRetentionReport = { cutoff, plans: 0, tasks: 0, kept: 0, complete: false };
    // Keyset walk: a plan kept in one batch (a session still runs) is not looked at again this run.
    let after: PrunablePlanCursor | null = null;
    report.complete = await inRetentionBatches(
      async () => {
        const due = await this.plans.findPrunable(cutoff, batchSize, after);
        if (due.length === 0) return 0;
        const last = due[due.length - 1];
        after = { endedAt: last.endedAt, id: last.id };
        const running = new Set(await this.sessions.unfinished(due.flatMap((plan) => plan.sessionIds)));
        const doomed = due.filter((plan) => !plan.sessionIds.some((id) => running.has(id))).map((plan) => plan.id);
        const deleted = await this.plans.deletePrunable(doomed, cutoff);
        report.plans += deleted.plans;
        report.tasks += deleted.tasks;
        report.kept += due.length - deleted.plans;
        this.metrics?.pruned('plans', deleted.plans);
        this.metrics?.pruned('plan_tasks', deleted.tasks);
        return due.length;
      },
      { batchSize, maxBatches: PLAN_RETENTION_MAX_BATCHES, signal },
    );
    this.logger.log(
      `Retention: deleted ${report.plans} plan(s) with ${report.tasks} task(s) finished before ${cutoff.toISOString()}` +
        (report.kept > 0 ? `; ${report.kept} kept while a session of theirs runs` : '') +
        (report.complete ? '' : '; more are due, the next run goes on'),
    );
    return report;
  }
}

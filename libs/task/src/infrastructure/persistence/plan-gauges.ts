import { Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { GaugeCounts, Metrics } from '@app/observability';
import { DataSource } from 'typeorm';
import { PlanStatus, TaskStatus } from '../../domain/plan-status';

/**
 * The sources of the plans gauges, read in the background (never at scrape time) by the
 * processes that refresh them: plans by status (PAUSED included), and the tasks of unfinished
 * plans (DRAFT, RUNNING or PAUSED) by status. Each one GROUP BY; skipped when the process has no Metrics.
 */
@Injectable()
export class PlanGauges implements OnModuleInit, OnModuleDestroy {
  private readonly unregister: Array<() => void> = [];

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Optional() private readonly metrics?: Metrics,
  ) {}

  onModuleInit(): void {
    if (!this.metrics) return;
    this.unregister.push(
      this.metrics.refreshInBackground('plans', {
        read: () => this.count(`SELECT status, count(*)::int AS n FROM plans WHERE deleted_at IS NULL GROUP BY status`),
        known: Object.values(PlanStatus),
      }),
      this.metrics.refreshInBackground('planTasks', {
        read: () =>
          this.count(
            `SELECT t.status, count(*)::int AS n FROM plan_tasks t JOIN plans p ON p.id = t.plan_id
             WHERE p.deleted_at IS NULL AND p.status IN ('${PlanStatus.DRAFT}', '${PlanStatus.RUNNING}', '${PlanStatus.PAUSED}') GROUP BY t.status`,
          ),
        known: Object.values(TaskStatus),
      }),
    );
  }

  onModuleDestroy(): void {
    this.unregister.forEach((off) => off());
  }

  private async count(sql: string): Promise<GaugeCounts> {
    const rows: Array<{ status: string; n: number }> = await this.dataSource.query(sql);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }
}

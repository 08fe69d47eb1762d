import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { MergeOutcomeLabel, WorktreeMetricsPort } from '../../application/ports/worktree-metrics.port';

const OUTCOMES: readonly MergeOutcomeLabel[] = ['merged', 'up_to_date', 'conflict', 'dirty'];

/** The worktree use cases' metrics on the process's Metrics; nothing when the process has none. */
@Injectable()
export class WorktreeMetrics implements WorktreeMetricsPort, OnModuleInit {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  onModuleInit(): void {
    // Every outcome at 0, so that increase() sees the first merge.
    for (const outcome of OUTCOMES) this.metrics?.worktreeMerges.labels(outcome).inc(0);
  }

  diskUsed(bytes: number): void {
    this.metrics?.worktreesDisk.set(bytes);
  }

  merged(outcome: MergeOutcomeLabel): void {
    this.metrics?.worktreeMerges.labels(outcome).inc();
  }
}

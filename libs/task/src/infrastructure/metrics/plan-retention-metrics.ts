import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { PlanRetentionKind, PlanRetentionMetricsPort } from '../../application/ports/retention-metrics.port';

const KINDS: readonly PlanRetentionKind[] = ['plans', 'plan_tasks'];

/** Plan retention's counts on the process's Metrics; nothing when the process has none. */
@Injectable()
export class PlanRetentionMetrics implements PlanRetentionMetricsPort, OnModuleInit {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  onModuleInit(): void {
    // At 0 from the start, so that increase() sees the first pruned rows.
    for (const kind of KINDS) this.metrics?.retentionPruned.labels(kind).inc(0);
  }

  pruned(kind: PlanRetentionKind, count: number): void {
    if (count > 0) this.metrics?.retentionPruned.labels(kind).inc(count);
  }
}

import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { SessionRetentionKind, SessionRetentionMetricsPort } from '../../application/ports/retention-metrics.port';

const KINDS: readonly SessionRetentionKind[] = ['session_outputs'];

/** Session retention's counts on the process's Metrics; nothing when the process has none. */
@Injectable()
export class SessionRetentionMetrics implements SessionRetentionMetricsPort, OnModuleInit {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  onModuleInit(): void {
    // At 0 from the start, so that increase() sees the first pruned rows.
    for (const kind of KINDS) this.metrics?.retentionPruned.labels(kind).inc(0);
  }

  pruned(kind: SessionRetentionKind, count: number): void {
    if (count > 0) this.metrics?.retentionPruned.labels(kind).inc(count);
  }
}

import { Injectable, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { RunControlMetricsPort } from '../../application/ports/run-control-metrics.port';

/** Fallbacks and runaway stops into Metrics (nothing without them, e.g. in a unit test module). */
@Injectable()
export class RunControlMetrics implements RunControlMetricsPort {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  fallback(from: string, to: string): void {
    this.metrics?.modelFallbacks.labels(from, to).inc();
  }

  runawayStop(reason: string): void {
    this.metrics?.runawayStops.labels(reason).inc();
  }
}

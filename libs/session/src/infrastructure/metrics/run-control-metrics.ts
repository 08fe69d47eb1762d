import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { RunControlMetricsPort } from '../../application/ports/run-control-metrics.port';
import { RunFailureCode } from '../../domain/session.errors';

const RUNAWAY_STOPS = [RunFailureCode.STEP_LIMIT, RunFailureCode.DOOM_LOOP, RunFailureCode.NO_PROGRESS];

/** Fallbacks and runaway stops into Metrics (nothing without them, e.g. in a unit test module). */
@Injectable()
export class RunControlMetrics implements RunControlMetricsPort, OnModuleInit {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  /** Every guard at 0, so that increase() sees the first stop. */
  onModuleInit(): void {
    for (const reason of RUNAWAY_STOPS) this.metrics?.runawayStops.labels(reason).inc(0);
  }

  fallback(from: string, to: string): void {
    this.metrics?.modelFallbacks.labels(from, to).inc();
  }

  runawayStop(reason: string): void {
    this.metrics?.runawayStops.labels(reason).inc();
  }
}

import { Injectable, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { CapacityMetricsPort } from '../../application/ports/capacity-metrics.port';
import type { ThrottleReason } from '../../domain/capacity';

/**
 * CAPACITY_METRICS into Metrics: orchestrator sessions throttled {model, reason}, provider rate
 * limits {model} and quota exhaustions {model}. Nothing when the process has no Metrics.
 */
@Injectable()
export class CapacityMetrics implements CapacityMetricsPort {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  throttled(model: string, reason: ThrottleReason): void {
    this.metrics?.sessionsThrottled.labels(model, reason).inc();
  }

  rateLimited(model: string): void {
    this.metrics?.providerRateLimits.labels(model).inc();
  }

  quotaExhausted(model: string): void {
    this.metrics?.providerQuotaExhausted.labels(model).inc();
  }
}

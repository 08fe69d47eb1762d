import type { ThrottleReason } from '../../domain/capacity';

/** What the capacity context reports for metrics; quick, never throws. */
export interface CapacityMetricsPort {
  throttled(model: string, reason: ThrottleReason): void;
  rateLimited(model: string): void;
  quotaExhausted(model: string): void;
}

export const CAPACITY_METRICS = Symbol('CAPACITY_METRICS');

// The capacity context's public entry: what other code uses of it, nothing more.
export { CapacityModule } from './capacity.module';
export { CapacityApiModule } from './infrastructure/http/capacity-api.module';
export { CAPACITY_OPTIONS, PERMIT_TTL_MS, ProviderCapacityService } from './application/provider-capacity.service';
export type { CapacityOptions } from './application/provider-capacity.service';
export { CAPACITY_STORE } from './application/ports/capacity-store.port';
export type { AcquireRequest, AcquireResult, CapacityStorePort, ConcurrencyBucket, MarkRequest } from './application/ports/capacity-store.port';
export { USAGE_WINDOWS } from './application/ports/usage-windows.port';
export type { UsageWindow, UsageWindowsPort, WindowMetric, WindowState } from './application/ports/usage-windows.port';
export { CAPACITY_METRICS } from './application/ports/capacity-metrics.port';
export type { CapacityMetricsPort } from './application/ports/capacity-metrics.port';
export { backoffWithJitter, parseRetryAfter } from './domain/backoff';
export { THROTTLE_REASONS } from './domain/capacity';
export type {
  Admission,
  CapacityPermit,
  CapacityRuleStatus,
  CapacityStatus,
  ConcurrencyUsage,
  ModelMark,
  ModelMarkKind,
  ThrottleReason,
  WindowUsage,
} from './domain/capacity';
export { CapacityError, CapacityErrorCode } from './domain/capacity.errors';

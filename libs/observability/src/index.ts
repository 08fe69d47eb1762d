// The observability core: one metrics registry and one root logger per process. It imports no
// bounded context: each context records its own metrics through Metrics, from an adapter of its
// own registered in its own module (e.g. libs/task's PlanGauges, libs/opencode's OpencodeMetrics).
export { METRIC, METRIC_NAMES, DEFAULT_WORKER_METRICS_PORT } from './metric-names';
export { Metrics } from './metrics';
export type { AggregateSource, GaugeCounts, TokenKind } from './metrics';
export { ObservabilityModule, ROOT_LOGGER } from './observability.module';
export { CORRELATION_HEADER, correlationIdFrom, currentCorrelationId, runWithLogContext } from './logging/log-context';
export { createNestLogger, createRootLogger, logFormatFor } from './logging/root-logger';
export { Logger as NestPinoLogger } from 'nestjs-pino';
export { routeOf, UNMATCHED_ROUTE } from './http/route-of';

// The observability core: depends on no bounded context, so that every context may use it.
// What measures the contexts (session observer, OpenCode client hooks) is in ./instrumentation,
// imported by the entry points as @app/observability/instrumentation.
export * from './metric-names';
export * from './metrics';
export * from './observability.module';
export * from './logging/log-context';
export * from './logging/root-logger';
export { Logger as NestPinoLogger } from 'nestjs-pino';
export * from './http/route-of';

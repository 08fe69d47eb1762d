// Instrumentation of the bounded contexts. A separate entry point (@app/observability/instrumentation)
// because it depends on those contexts, which themselves use the observability core (@app/observability).
export * from './approval-metrics';
export * from './instrumentation.module';
export * from './opencode-metrics';
export * from './session-metrics';

// Test doubles of the capacity context (@app/capacity/testing): never imported by production code.
export { FakeClock, InMemoryCapacityStore, InMemoryUsageWindows, RecordingCapacityMetrics } from './in-memory-capacity';

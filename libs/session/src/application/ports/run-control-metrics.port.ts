/** What run control reports for the metrics (adapter: RunControlMetrics; absent: nothing is recorded). */
export interface RunControlMetricsPort {
  /** A run went to a fallback model instead of its primary one. */
  fallback(from: string, to: string): void;
  /** A runaway guard stopped a turn (STEP_LIMIT, DOOM_LOOP, NO_PROGRESS). */
  runawayStop(reason: string): void;
}

export const RUN_CONTROL_METRICS = Symbol('RUN_CONTROL_METRICS');

import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { AggregateRefresh, Metrics } from './metrics';

export const METRICS_REFRESH_OPTIONS = Symbol('METRICS_REFRESH_OPTIONS');

export interface MetricsRefreshOptions {
  /** Time between the end of one refresh and the start of the next (METRICS_REFRESH_SECONDS). */
  intervalMs: number;
}

/** A failure reason in a log line: one line, bounded (a driver's message, never its error object). */
const MAX_REASON_LENGTH = 300;

/**
 * Refreshes the deployment-wide gauges (Metrics.refreshAggregates) in the background: once at
 * start, then intervalMs after each refresh ended, so refreshes never overlap and a slow database
 * only spaces them out. Its timer does not hold the process open; it stops with the module, after
 * the refresh under way (before TypeORM closes its pool). A failed source keeps its last values
 * and is logged at warn; orchestrator_metrics_aggregates_age_seconds shows how old each gauge is.
 */
@Injectable()
export class MetricsRefresher implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(MetricsRefresher.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  /** Metrics whose last refresh failed, with why: a failure repeated is logged at debug, its recovery once. */
  private readonly failing = new Map<string, string>();

  constructor(
    private readonly metrics: Metrics,
    @Inject(METRICS_REFRESH_OPTIONS) private readonly options: MetricsRefreshOptions,
  ) {}

  onApplicationBootstrap(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One refresh now (the next one follows intervalMs after it); a call during a refresh waits for that one. */
  refresh(): Promise<void> {
    this.running ??= this.metrics
      .refreshAggregates()
      .then((result) => this.report(result))
      .catch((err: unknown) => this.logger.warn(`Refreshing the metrics aggregates failed: ${oneLine(err)}`))
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.refresh().then(() => this.schedule(this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private report({ refreshed, failed }: AggregateRefresh): void {
    for (const { metric, reason } of failed) {
      const why = oneLine(reason);
      const line = `${metric} keeps its last values: reading it failed (${why}); next try in ${this.options.intervalMs / 1000} s`;
      if (this.failing.get(metric) === why) this.logger.debug(line);
      else this.logger.warn(line);
      this.failing.set(metric, why);
    }
    for (const metric of refreshed) {
      if (this.failing.delete(metric)) this.logger.log(`${metric} is refreshed again`);
    }
  }
}

function oneLine(reason: unknown): string {
  const text = (reason instanceof Error ? reason.message : String(reason)).replace(/\s+/g, ' ').trim();
  return text.length > MAX_REASON_LENGTH ? `${text.slice(0, MAX_REASON_LENGTH)}…` : text;
}

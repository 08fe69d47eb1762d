import { DynamicModule, Global, Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Logger as NestPinoLogger } from 'nestjs-pino';
import type { Logger as Pino } from 'pino';
import { createNestLogger, createRootLogger, logFormatFor } from './logging/root-logger';
import { Metrics } from './metrics';
import { METRICS_REFRESH_OPTIONS, MetricsRefresher, MetricsRefreshOptions } from './metrics-refresher';

/** The process's root pino logger (a pino.Logger). */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

interface ObservabilityOptions {
  /**
   * The process's root logger. Entry points create it before the application (so that start-up
   * lines go through it too) and pass it here; tests pass one that writes where they read.
   * Default: on stdout at LOG_LEVEL, in LOG_FORMAT.
   */
  logger?: Pino;
  /**
   * Refresh the deployment-wide gauges (sessions, run jobs, plans, plan tasks) in the background,
   * every METRICS_REFRESH_SECONDS. The API does (one process per deployment in the usual setup,
   * and the one Prometheus scrapes for them); a worker does not, so its /metrics leaves them out
   * and the load on PostgreSQL does not grow with the number of workers. Default false.
   */
  refreshAggregates?: boolean;
}

/**
 * One metrics registry (Metrics, with Node.js process metrics) and one root logger per process,
 * for every module. `app.useLogger(app.get(Logger))` (Logger of nestjs-pino) routes Nest's
 * logging through the root logger.
 */
@Global()
@Module({})
export class ObservabilityModule {
  static forRoot(options: ObservabilityOptions = {}): DynamicModule {
    return {
      module: ObservabilityModule,
      providers: [
        { provide: Metrics, useFactory: () => new Metrics() },
        {
          provide: ROOT_LOGGER,
          inject: [AppConfig],
          useFactory: (config: AppConfig) =>
            options.logger ?? createRootLogger({ level: config.logLevel, format: logFormatFor(config.logFormat) }),
        },
        { provide: NestPinoLogger, inject: [ROOT_LOGGER], useFactory: createNestLogger },
        ...(options.refreshAggregates
          ? [
              {
                provide: METRICS_REFRESH_OPTIONS,
                inject: [AppConfig],
                useFactory: (config: AppConfig): MetricsRefreshOptions => ({ intervalMs: config.metricsRefreshSeconds * 1000 }),
              },
              MetricsRefresher,
            ]
          : []),
      ],
      exports: [Metrics, ROOT_LOGGER, NestPinoLogger],
    };
  }
}

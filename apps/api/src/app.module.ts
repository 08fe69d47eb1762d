import { BullBoardModule } from '@bull-board/nestjs';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { DynamicModule, Module } from '@nestjs/common';
import { AgentModule } from '@app/agent';
import { AuthModule } from '@app/auth';
import { CapacityApiModule } from '@app/capacity';
import { AppConfig, ConfigModule } from '@app/config';
import { ObservabilityModule } from '@app/observability';
import { OpencodeFleetApiModule } from '@app/opencode';
import { PlatformModule } from '@app/platform';
import { SESSION_RUN_QUEUE, SessionModule, SessionWorkerModule } from '@app/session';
import { TaskModule } from '@app/task';
import type { Logger as Pino } from 'pino';
import { HealthModule } from './health/health.module';
import { MetricsController } from './metrics/metrics.controller';

export interface AppModuleOptions {
  config: AppConfig;
  /** Run the session worker in this process too (`npm start`). */
  withWorker: boolean;
  /** The process's root logger (default: on stdout at LOG_LEVEL, in LOG_FORMAT). */
  logger?: Pino;
}

/**
 * Whether this process talks to OpenCode itself (it runs the worker, or OPENCODE_HOST is set):
 * then its health check asks OpenCode, and OpencodeModule comes in with its metrics. Otherwise
 * its workers manage OpenCode.
 */
export function usesOpencode(config: AppConfig, withWorker: boolean): boolean {
  return withWorker || config.opencode.host !== undefined;
}

/** The HTTP application: REST API, Swagger, health probes, metrics and the job dashboard. */
@Module({})
export class AppModule {
  static forRoot({ config, withWorker, logger }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        // An API without the worker runs no OpenCode server of its own (OPENCODE_SERVERS is the workers').
        ConfigModule.forRoot(withWorker ? config : config.withoutManagedServers()),
        // The API refreshes the deployment-wide gauges of /metrics in the background; workers do not.
        ObservabilityModule.forRoot({ logger, refreshAggregates: true }),
        PlatformModule,
        AuthModule,
        SessionModule,
        AgentModule,
        ...(withWorker ? [SessionWorkerModule] : []),
        TaskModule.forRoot({ scheduler: withWorker }),
        OpencodeFleetApiModule,
        CapacityApiModule,
        HealthModule.forRoot({ checkOpencode: usesOpencode(config, withWorker), runsWorker: withWorker }),
        BullBoardModule.forRoot({ route: '/queues', adapter: ExpressAdapter }),
        BullBoardModule.forFeature({ name: SESSION_RUN_QUEUE, adapter: BullMQAdapter }),
      ],
      controllers: [MetricsController],
    };
  }
}

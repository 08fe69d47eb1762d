import { DynamicModule, Module } from '@nestjs/common';
import { AgentModule } from '@app/agent';
import { AppConfig, ConfigModule } from '@app/config';
import { ObservabilityModule } from '@app/observability';
import { PlatformModule } from '@app/platform';
import { SessionWorkerModule } from '@app/session';
import { TaskModule } from '@app/task';
import type { Logger as Pino } from 'pino';
import { WorkerMetricsServer } from './worker-metrics.server';

export interface WorkerModuleOptions {
  /** The process's root logger (default: on stdout at LOG_LEVEL, in LOG_FORMAT). */
  logger?: Pino;
}

/** A worker process: the same modules as the API's worker side, no HTTP but its metrics server. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig, options: WorkerModuleOptions = {}): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        ObservabilityModule.forRoot({ logger: options.logger }),
        PlatformModule,
        SessionWorkerModule,
        TaskModule.forRoot({ scheduler: true }),
        AgentModule,
      ],
      providers: [WorkerMetricsServer],
    };
  }
}

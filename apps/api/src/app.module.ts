import { BullBoardModule } from '@bull-board/nestjs';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { DynamicModule, Module } from '@nestjs/common';
import { AgentModule } from '@app/agent';
import { AppConfig, ConfigModule } from '@app/config';
import { PlatformModule } from '@app/platform';
import { SESSION_RUN_QUEUE, SessionModule, SessionWorkerModule } from '@app/session';
import { TaskModule } from '@app/task';
import { HealthModule } from './health/health.module';

export interface AppModuleOptions {
  config: AppConfig;
  /** Run the session worker in this process too (`npm start`). */
  withWorker: boolean;
}

/** The HTTP application: REST API, Swagger, health probes and the job dashboard. */
@Module({})
export class AppModule {
  static forRoot({ config, withWorker }: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        PlatformModule,
        SessionModule,
        AgentModule,
        ...(withWorker ? [SessionWorkerModule] : []),
        TaskModule.forRoot({ scheduler: withWorker }),
        HealthModule.forRoot({ checkOpencode: withWorker || config.opencode.host !== undefined }),
        BullBoardModule.forRoot({ route: '/queues', adapter: ExpressAdapter }),
        BullBoardModule.forFeature({ name: SESSION_RUN_QUEUE, adapter: BullMQAdapter }),
      ],
    };
  }
}

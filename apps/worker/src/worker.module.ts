import { DynamicModule, Module } from '@nestjs/common';
import { AgentModule } from '@app/agent';
import { AppConfig, ConfigModule } from '@app/config';
import { PlatformModule } from '@app/platform';
import { SessionWorkerModule } from '@app/session';
import { TaskModule } from '@app/task';

/** A worker process: the same modules as the API's worker side, no HTTP. */
@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: WorkerModule, imports: [ConfigModule.forRoot(config), PlatformModule, SessionWorkerModule, TaskModule.forRoot({ scheduler: true }), AgentModule] };
  }
}

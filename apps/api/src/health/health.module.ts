import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CodingTurnsModule, SessionModule, SessionWorkerModule } from '@app/session';
import { HealthController } from './health.controller';

@Module({})
export class HealthModule {
  /**
   * checkOpencode: this process talks to OpenCode itself (it runs the worker or OPENCODE_HOST is set).
   * runsWorker: it runs the session worker too (readiness then lists its runs waiting for the database).
   */
  static forRoot(options: { checkOpencode: boolean; runsWorker?: boolean }): DynamicModule {
    return {
      module: HealthModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        SessionModule,
        ...(options.checkOpencode ? [CodingTurnsModule] : []),
        ...(options.runsWorker ? [SessionWorkerModule] : []),
      ],
      controllers: [HealthController],
    };
  }
}

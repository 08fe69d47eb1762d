import { DynamicModule, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { CodingTurnsModule, SessionModule } from '@app/session';
import { HealthController } from './health.controller';

@Module({})
export class HealthModule {
  /** checkOpencode: this process talks to OpenCode itself (it runs the worker or OPENCODE_HOST is set). */
  static forRoot(options: { checkOpencode: boolean }): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false }), SessionModule, ...(options.checkOpencode ? [CodingTurnsModule] : [])],
      controllers: [HealthController],
    };
  }
}

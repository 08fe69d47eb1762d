import { DynamicModule, Module } from '@nestjs/common';
import { ApprovalModule } from '@app/approval';
import { OpencodeModule } from '@app/opencode';
import { SessionModule } from '@app/session';
import { ApprovalMetrics } from './approval-metrics';
import { OpencodeMetrics } from './opencode-metrics';
import { SessionMetrics } from './session-metrics';

export interface InstrumentationOptions {
  /** This process talks to OpenCode (it runs the worker, or OPENCODE_HOST is set). */
  opencode: boolean;
}

/**
 * Where the numbers come from, besides the fair lock (wired in LockingModule) and HTTP (the
 * API's middleware): session transitions and gauges, approval outcomes, and OpenCode requests and health. Needs
 * ObservabilityModule. OpenCode is only instrumented where it is used: importing OpencodeModule
 * elsewhere would start a managed server nobody needs.
 */
@Module({})
export class InstrumentationModule {
  static forRoot(options: InstrumentationOptions): DynamicModule {
    return {
      module: InstrumentationModule,
      imports: [SessionModule, ApprovalModule, ...(options.opencode ? [OpencodeModule] : [])],
      providers: [SessionMetrics, ApprovalMetrics, ...(options.opencode ? [OpencodeMetrics] : [])],
    };
  }
}

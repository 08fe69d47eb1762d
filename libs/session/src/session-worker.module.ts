import { Module } from '@nestjs/common';
import { SessionExecutionService } from './application/session-execution.service';
import { SessionRecoveryService } from './application/session-recovery.service';
import { CodingAgentModule } from './coding-agent.module';
import { SessionRunWorker } from './infrastructure/jobs/session-run.worker';
import { SessionModule } from './session.module';

/** The worker side: runs queued sessions on OpenCode and recovers lost runs. */
@Module({
  imports: [SessionModule, CodingAgentModule],
  providers: [SessionExecutionService, SessionRecoveryService, SessionRunWorker],
  exports: [SessionExecutionService, SessionRecoveryService],
})
export class SessionWorkerModule {}

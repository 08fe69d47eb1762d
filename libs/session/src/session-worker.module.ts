import { Module } from '@nestjs/common';
import { LockingModule } from '@app/locking';
import { SessionExecutionService } from './application/session-execution.service';
import { SessionRecoveryService } from './application/session-recovery.service';
import { RunWatcher } from './application/run-watcher';
import { WorkspaceLock } from './application/workplace/workspace-lock';
import { WorktreeSlots } from './application/workplace/worktree-slots';
import { WorktreeJanitor } from './application/workplace/worktree-janitor';
import { WorktreeJanitorSchedule } from './infrastructure/jobs/worktree-janitor.schedule';
import { CodingTurnsModule } from './coding-turns.module';
import { SessionRunWorker } from './infrastructure/jobs/session-run.worker';
import { SessionModule } from './session.module';

/** The worker side: runs queued sessions on OpenCode and recovers lost runs. */
@Module({
  imports: [SessionModule, CodingTurnsModule, LockingModule],
  providers: [
    SessionExecutionService,
    RunWatcher,
    WorkspaceLock,
    WorktreeSlots,
    WorktreeJanitor,
    WorktreeJanitorSchedule,
    SessionRecoveryService,
    SessionRunWorker,
  ],
  exports: [SessionExecutionService, SessionRecoveryService],
})
export class SessionWorkerModule {}

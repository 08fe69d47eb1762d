import { Module } from '@nestjs/common';
import { CapacityModule, ProviderCapacityService } from '@app/capacity';
import { LockingModule } from '@app/locking';
import { SpendingModule, SpendingService } from '@app/spending';
import { PROVIDER_CAPACITY } from './application/ports/provider-capacity.port';
import { RUN_CONTROL_METRICS } from './application/ports/run-control-metrics.port';
import { RUN_SPENDING } from './application/ports/run-spending.port';
import { providerCapacityAdapter, runSpendingAdapter } from './infrastructure/clients/run-control.adapters';
import { RunControlMetrics } from './infrastructure/metrics/run-control-metrics';
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

/** The worker side: runs queued sessions on OpenCode (within budgets and provider capacity) and recovers lost runs. */
@Module({
  imports: [SessionModule, CodingTurnsModule, LockingModule, CapacityModule, SpendingModule],
  providers: [
    { provide: PROVIDER_CAPACITY, inject: [ProviderCapacityService], useFactory: providerCapacityAdapter },
    { provide: RUN_SPENDING, inject: [SpendingService], useFactory: runSpendingAdapter },
    { provide: RUN_CONTROL_METRICS, useClass: RunControlMetrics },
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

import { Module } from '@nestjs/common';
import { CapacityModule, ProviderCapacityService } from '@app/capacity';
import { LockingModule } from '@app/locking';
import { MaintenanceModule, OutageClassifier } from '@app/platform';
import { SpendingModule, SpendingService } from '@app/spending';
import { PROVIDER_CAPACITY } from './application/ports/provider-capacity.port';
import { RUN_CONTROL_METRICS } from './application/ports/run-control-metrics.port';
import { DATABASE_AVAILABILITY, DATABASE_WAIT_METRICS } from './application/ports/database-availability.port';
import { DatabaseWait } from './application/database-wait';
import { databaseAvailabilityAdapter } from './infrastructure/clients/database-availability.adapter';
import { DatabaseWaitMetrics } from './infrastructure/metrics/database-wait-metrics';
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
import { SessionRetentionSchedule } from './infrastructure/jobs/session-retention.schedule';
import { SessionRetentionService } from './application/session-retention.service';
import { SESSION_RETENTION_METRICS } from './application/ports/retention-metrics.port';
import { SessionRetentionMetrics } from './infrastructure/metrics/session-retention-metrics';
import { CodingTurnsModule } from './coding-turns.module';
import { SessionRunWorker } from './infrastructure/jobs/session-run.worker';
import { SessionModule } from './session.module';

/** The worker side: runs queued sessions on OpenCode (within budgets and provider capacity), recovers lost runs and prunes finished ones (retention). */
@Module({
  imports: [SessionModule, CodingTurnsModule, LockingModule, CapacityModule, SpendingModule, MaintenanceModule],
  providers: [
    { provide: PROVIDER_CAPACITY, inject: [ProviderCapacityService], useFactory: providerCapacityAdapter },
    { provide: RUN_SPENDING, inject: [SpendingService], useFactory: runSpendingAdapter },
    { provide: RUN_CONTROL_METRICS, useClass: RunControlMetrics },
    { provide: DATABASE_AVAILABILITY, inject: [OutageClassifier], useFactory: databaseAvailabilityAdapter },
    { provide: DATABASE_WAIT_METRICS, useClass: DatabaseWaitMetrics },
    DatabaseWait,
    SessionExecutionService,
    RunWatcher,
    WorkspaceLock,
    WorktreeSlots,
    WorktreeJanitor,
    WorktreeJanitorSchedule,
    { provide: SESSION_RETENTION_METRICS, useClass: SessionRetentionMetrics },
    SessionRetentionService,
    SessionRetentionSchedule,
    SessionRecoveryService,
    SessionRunWorker,
  ],
  exports: [SessionExecutionService, SessionRecoveryService, DatabaseWait],
})
export class SessionWorkerModule {}

import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentModule } from '@app/agent';
import { ApprovalModule } from '@app/approval';
import { LockingModule } from '@app/locking';
import { WorkspaceModule } from '@app/workspace';
import { AGENT_DIRECTORY } from './application/ports/agent-directory.port';
import { APPROVAL_GATE } from './application/ports/approval-gate.port';
import { RUN_HEARTBEAT } from './application/ports/run-heartbeat.port';
import { SESSION_QUEUE } from './application/ports/session-queue.port';
import { SESSION_REPOSITORY } from './application/ports/session.repository.port';
import { SESSION_SIGNALS } from './application/ports/session-signals.port';
import { SESSION_EVENTS } from './application/ports/session-events.port';
import { WORKTREE_METRICS } from './application/ports/worktree-metrics.port';
import { WorktreeMetrics } from './infrastructure/metrics/worktree-metrics';
import { AwaitingApprovals } from './application/awaiting-approvals';
import { SessionLifecycleService } from './application/session-lifecycle.service';
import { SessionWorktreeService } from './application/session-worktree.service';
import { WorktreeDiskUsage } from './application/workplace/worktree-disk-usage';
import { SessionTransitionPublisher } from './application/session-transition-publisher';
import { RedisSessionEvents } from './infrastructure/events/redis-session-events';
import { SessionSseStreams } from './infrastructure/events/session-sse-streams';
import { SessionEventsController } from './infrastructure/http/session-events.controller';
import { SessionsController } from './infrastructure/http/sessions.controller';
import { AgentServiceDirectory } from './infrastructure/clients/agent-directory.adapter';
import { ApprovalServiceGate } from './infrastructure/clients/approval-gate.adapter';
import { BullmqSessionQueue, SESSION_RUN_QUEUE } from './infrastructure/jobs/session-run.queue';
import { SessionMetrics } from './infrastructure/metrics/session-metrics';
import { SESSION_ENTITIES } from './infrastructure/persistence/session-entities';
import { TypeormSessionRepository } from './infrastructure/persistence/typeorm-session.repository';
import { RedisRunHeartbeat } from './infrastructure/signals/redis-run-heartbeat';
import { RedisSessionSignals } from './infrastructure/signals/redis-session-signals';

const ports = [
  { provide: SESSION_REPOSITORY, useClass: TypeormSessionRepository },
  { provide: SESSION_QUEUE, useClass: BullmqSessionQueue },
  { provide: SESSION_SIGNALS, useClass: RedisSessionSignals },
  { provide: SESSION_EVENTS, useClass: RedisSessionEvents },
  { provide: RUN_HEARTBEAT, useClass: RedisRunHeartbeat },
  { provide: AGENT_DIRECTORY, useClass: AgentServiceDirectory },
  { provide: APPROVAL_GATE, useClass: ApprovalServiceGate },
  { provide: WORKTREE_METRICS, useClass: WorktreeMetrics },
];

/**
 * The session lifecycle: domain, persistence, the run queue, live events (transitions are
 * published by whichever process commits them), its metrics (when the process has Metrics) and
 * the REST API with its event streams.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature(SESSION_ENTITIES),
    BullModule.registerQueue({ name: SESSION_RUN_QUEUE }),
    LockingModule,
    AgentModule,
    ApprovalModule,
    WorkspaceModule,
  ],
  controllers: [SessionsController, SessionEventsController],
  providers: [...ports, SessionLifecycleService, SessionWorktreeService, WorktreeDiskUsage, SessionTransitionPublisher, SessionSseStreams, SessionMetrics, AwaitingApprovals],
  // BullModule: the session-run queue this module registers (the worker and the queue metrics use it).
  exports: [...ports.map((p) => p.provide), SessionLifecycleService, SessionWorktreeService, WorktreeDiskUsage, SessionTransitionPublisher, BullModule],
})
export class SessionModule {}

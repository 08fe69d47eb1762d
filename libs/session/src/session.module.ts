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
import { AwaitingApprovals } from './application/awaiting-approvals';
import { SessionLifecycleService } from './application/session-lifecycle.service';
import { SessionObservers } from './application/session-observers';
import { RedisSessionEvents } from './infrastructure/events/redis-session-events';
import { SessionEventStreams } from './infrastructure/events/session-event-streams';
import { SessionTransitionPublisher } from './infrastructure/events/session-transition-publisher';
import { SessionEventsController } from './infrastructure/http/session-events.controller';
import { SessionsController } from './infrastructure/http/sessions.controller';
import { AgentServiceDirectory } from './infrastructure/clients/agent-directory.adapter';
import { ApprovalServiceGate } from './infrastructure/clients/approval-gate.adapter';
import { BullmqSessionQueue, SESSION_RUN_QUEUE } from './infrastructure/jobs/session-run.queue';
import { SessionEventOrmEntity, SessionOrmEntity } from './infrastructure/persistence/session.orm-entity';
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
];

/**
 * The session lifecycle: domain, persistence, the run queue, live events (transitions are
 * published by whichever process commits them) and the REST API with its event streams.
 */
@Module({
  imports: [
    TypeOrmModule.forFeature([SessionOrmEntity, SessionEventOrmEntity]),
    BullModule.registerQueue({ name: SESSION_RUN_QUEUE }),
    LockingModule,
    AgentModule,
    ApprovalModule,
    WorkspaceModule,
  ],
  controllers: [SessionsController, SessionEventsController],
  providers: [...ports, SessionLifecycleService, SessionObservers, SessionTransitionPublisher, SessionEventStreams, AwaitingApprovals],
  exports: [...ports.map((p) => p.provide), SessionLifecycleService, SessionObservers, BullModule, LockingModule],
})
export class SessionModule {}

import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentModule } from '@app/agent';
import { LockingModule } from '@app/locking';
import { AGENT_DIRECTORY } from './application/ports/agent-directory.port';
import { RUN_HEARTBEAT } from './application/ports/run-heartbeat.port';
import { SESSION_QUEUE } from './application/ports/session-queue.port';
import { SESSION_REPOSITORY } from './application/ports/session.repository.port';
import { SESSION_SIGNALS } from './application/ports/session-signals.port';
import { SessionLifecycleService } from './application/session-lifecycle.service';
import { SessionObservers } from './application/session-observers';
import { SessionsController } from './infrastructure/http/sessions.controller';
import { AgentServiceDirectory } from './infrastructure/clients/agent-directory.adapter';
import { BullmqSessionQueue, SESSION_RUN_QUEUE } from './infrastructure/jobs/session-run.queue';
import { SessionEventOrmEntity, SessionOrmEntity } from './infrastructure/persistence/session.orm-entity';
import { TypeormSessionRepository } from './infrastructure/persistence/typeorm-session.repository';
import { RedisRunHeartbeat } from './infrastructure/signals/redis-run-heartbeat';
import { RedisSessionSignals } from './infrastructure/signals/redis-session-signals';

const ports = [
  { provide: SESSION_REPOSITORY, useClass: TypeormSessionRepository },
  { provide: SESSION_QUEUE, useClass: BullmqSessionQueue },
  { provide: SESSION_SIGNALS, useClass: RedisSessionSignals },
  { provide: RUN_HEARTBEAT, useClass: RedisRunHeartbeat },
  { provide: AGENT_DIRECTORY, useClass: AgentServiceDirectory },
];

/** The session lifecycle: domain, persistence, the run queue and the REST API. */
@Module({
  imports: [
    TypeOrmModule.forFeature([SessionOrmEntity, SessionEventOrmEntity]),
    BullModule.registerQueue({ name: SESSION_RUN_QUEUE }),
    LockingModule,
    AgentModule,
  ],
  controllers: [SessionsController],
  providers: [...ports, SessionLifecycleService, SessionObservers],
  exports: [...ports.map((p) => p.provide), SessionLifecycleService, SessionObservers, BullModule, LockingModule],
})
export class SessionModule {}

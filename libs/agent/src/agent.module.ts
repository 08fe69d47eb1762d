import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SpendingModule } from '@app/spending';
import { AgentService } from './application/agent.service';
import { AGENT_PERFORMANCE } from './application/ports/agent-performance.port';
import { AGENT_REPOSITORY } from './application/ports/agent.repository.port';
import { SPEND_LIMITS } from './application/ports/spend-limits.port';
import { SpendingServiceSpendLimits } from './infrastructure/clients/spending-service.spend-limits';
import { AgentsController } from './infrastructure/http/agents.controller';
import { AGENT_ENTITIES } from './infrastructure/persistence/agent-entities';
import { TypeormAgentPerformanceRepository } from './infrastructure/persistence/typeorm-agent-performance.repository';
import { TypeormAgentRepository } from './infrastructure/persistence/typeorm-agent.repository';

const ports = [
  { provide: AGENT_REPOSITORY, useClass: TypeormAgentRepository },
  { provide: AGENT_PERFORMANCE, useClass: TypeormAgentPerformanceRepository },
  { provide: SPEND_LIMITS, useClass: SpendingServiceSpendLimits },
];

/** Agents: the catalogue, their performance figures and daily budgets, routing, and the REST API. */
@Module({
  imports: [TypeOrmModule.forFeature(AGENT_ENTITIES), SpendingModule],
  controllers: [AgentsController],
  providers: [...ports, AgentService],
  exports: [...ports.map((p) => p.provide), AgentService],
})
export class AgentModule {}

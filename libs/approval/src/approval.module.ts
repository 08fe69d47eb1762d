import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApprovalObservers } from './application/approval-observers';
import { ApprovalService } from './application/approval.service';
import { APPROVAL_DECISIONS } from './application/ports/approval-decisions.port';
import { APPROVAL_REPOSITORY } from './application/ports/approval.repository.port';
import { ApprovalsController } from './infrastructure/http/approvals.controller';
import { ApprovalMetrics } from './infrastructure/metrics/approval-metrics';
import { RedisApprovalDecisions } from './infrastructure/messaging/redis-approval-decisions';
import { APPROVAL_ENTITIES } from './infrastructure/persistence/approval-entities';
import { TypeormApprovalRepository } from './infrastructure/persistence/typeorm-approval.repository';

const ports = [
  { provide: APPROVAL_REPOSITORY, useClass: TypeormApprovalRepository },
  { provide: APPROVAL_DECISIONS, useClass: RedisApprovalDecisions },
];

/**
 * Approvals: OpenCode permission requests waiting for a person. The session worker opens them
 * and waits (through the session context's approval gate); operators answer them over REST.
 */
@Module({
  imports: [TypeOrmModule.forFeature(APPROVAL_ENTITIES)],
  controllers: [ApprovalsController],
  providers: [...ports, ApprovalService, ApprovalObservers, ApprovalMetrics],
  exports: [...ports.map((p) => p.provide), ApprovalService, ApprovalObservers],
})
export class ApprovalModule {}

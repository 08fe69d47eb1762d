import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApprovalObservers } from './application/approval-observers';
import { ApprovalService } from './application/approval.service';
import { APPROVAL_DECISIONS } from './application/ports/approval-decisions.port';
import { APPROVAL_REPOSITORY } from './application/ports/approval.repository.port';
import { ApprovalsController } from './infrastructure/http/approvals.controller';
import { RedisApprovalDecisions } from './infrastructure/messaging/redis-approval-decisions';
import { ApprovalOrmEntity } from './infrastructure/persistence/approval.orm-entity';
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
  imports: [TypeOrmModule.forFeature([ApprovalOrmEntity])],
  controllers: [ApprovalsController],
  providers: [...ports, ApprovalService, ApprovalObservers],
  exports: [...ports.map((p) => p.provide), ApprovalService, ApprovalObservers],
})
export class ApprovalModule {}

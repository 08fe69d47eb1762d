// The approval context's public entry: what other code uses of it, nothing more.
export { ApprovalModule } from './approval.module';
export { APPROVAL_ENTITIES } from './infrastructure/persistence/approval-entities';
export { ApprovalService } from './application/approval.service';
export { Approval } from './domain/approval';
export { ApprovalErrorCode } from './domain/approval.errors';

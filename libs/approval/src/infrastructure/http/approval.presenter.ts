import { Approval } from '../../domain/approval';
import { ApprovalDetailDto, ApprovalResponseDto } from './dto/approval.dto';

export function presentApproval(approval: Approval): ApprovalResponseDto {
  const { opencodeRequestId: _r, metadata: _m, version: _v, ...visible } = approval.snapshot();
  return visible;
}

export function presentApprovalDetail(approval: Approval): ApprovalDetailDto {
  return { ...presentApproval(approval), metadata: approval.snapshot().metadata };
}

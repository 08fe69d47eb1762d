import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsUUID, Max, Min } from 'class-validator';
import { APPROVAL_DECIDERS, ApprovalDecider, ApprovalStatus } from '../../../domain/approval-status';

export const APPROVAL_DECISIONS_ACCEPTED = ['allow', 'deny'] as const;

export class ListApprovalsQueryDto {
  @ApiPropertyOptional({ enum: ApprovalStatus, description: 'e.g. PENDING: what waits for an answer' })
  @IsOptional() @IsIn(Object.values(ApprovalStatus), { message: `status must be one of ${Object.values(ApprovalStatus).join(', ')}` })
  status?: ApprovalStatus;

  @ApiPropertyOptional({ format: 'uuid', description: 'Only the approvals of this session' })
  @IsOptional() @IsUUID(undefined, { message: 'sessionId must be a UUID' })
  sessionId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200)
  limit?: number;
}

export class AnswerApprovalDto {
  @ApiProperty({ enum: APPROVAL_DECISIONS_ACCEPTED })
  @IsIn(APPROVAL_DECISIONS_ACCEPTED, { message: `decision must be one of ${APPROVAL_DECISIONS_ACCEPTED.join(', ')}` })
  decision: (typeof APPROVAL_DECISIONS_ACCEPTED)[number];

  @ApiPropertyOptional({
    default: false,
    description: 'With allow: OpenCode also allows the later calls of this session that the request names (its "always")',
  })
  @IsOptional() @IsBoolean()
  remember?: boolean;
}

export class ApprovalResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) sessionId: string;
  @ApiProperty({ description: "The session's attempt (run) that asked" }) attempt: number;
  @ApiProperty({ example: 'edit', description: 'The OpenCode permission asked for (edit, bash, webfetch, external_directory, …)' })
  permission: string;
  @ApiProperty({ type: [String], description: 'What the call touches, as OpenCode matches its rules' }) patterns: string[];
  @ApiProperty({ example: 'edit src/a.ts' }) title: string;
  @ApiProperty({ enum: ApprovalStatus }) status: ApprovalStatus;
  @ApiProperty({ description: 'allow + remember: answered "always"' }) remember: boolean;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiProperty({ format: 'date-time', description: 'PENDING past this: EXPIRED (denied)' }) expiresAt: Date;
  @ApiProperty({ nullable: true, type: String, format: 'date-time', description: 'When it was decided, however' }) answeredAt: Date | null;
  @ApiProperty({ nullable: true, type: String, description: 'The API key that answered (null: not a key, or auth off)' })
  answeredByKeyId: string | null;
  @ApiProperty({ nullable: true, enum: APPROVAL_DECIDERS }) decidedBy: ApprovalDecider | null;
}

export class ApprovalDetailDto extends ApprovalResponseDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: "OpenCode's details of the call (e.g. filepath and the diff for edit; long values cut)",
  })
  metadata: Record<string, unknown>;
}

export class ApprovalListDto {
  @ApiProperty({ type: [ApprovalResponseDto] }) items: ApprovalResponseDto[];
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { SessionStatus } from '../../../domain/session-status';

export class CreateSessionDto {
  @ApiProperty({ example: 'Add a health endpoint', maxLength: 200 })
  @IsString() @IsNotEmpty() @MaxLength(200)
  title: string;

  @ApiProperty({ example: 'Add GET /health returning {"ok":true} with a test.', maxLength: 100_000 })
  @IsString() @IsNotEmpty() @MaxLength(100_000)
  prompt: string;

  @ApiProperty({ example: '/srv/repos/billing', description: 'Absolute path of an existing directory' })
  @IsString() @IsNotEmpty() @MaxLength(4096)
  workspace: string;

  @ApiPropertyOptional({ example: 'build', default: 'build', description: 'OpenCode agent name' })
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9_-]{1,100}$/, { message: 'agent must be 1-100 letters, digits, _ or -' })
  agent?: string;

  @ApiPropertyOptional({ example: 'anthropic/claude-sonnet-4', description: '"provider/model"; default: the server\'s model' })
  @IsOptional() @IsString() @MaxLength(200) @Matches(/^[^/\s]+\/\S+$/, { message: 'model must look like provider/model' })
  model?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 86400, description: 'Default: SESSION_TIMEOUT_SECONDS' })
  @IsOptional() @IsInt() @Min(1) @Max(86400)
  timeoutSeconds?: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { ticket: 'BILL-42' } })
  @IsOptional() @IsObject()
  metadata?: Record<string, unknown>;
}

export class UpdateSessionDto {
  @ApiProperty({ description: 'The version you read; a stale one gets 409 VERSION_CONFLICT' })
  @IsInt() @Min(1)
  version: number;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(200)
  title?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional() @IsObject()
  metadata?: Record<string, unknown>;
}

export class ListSessionsQueryDto {
  @ApiPropertyOptional({ enum: SessionStatus })
  @IsOptional() @IsIn(Object.values(SessionStatus))
  status?: SessionStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' })
  @IsOptional() @IsString() @MaxLength(200)
  cursor?: string;
}

class UsageDto {
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() reasoningTokens: number;
  @ApiProperty() cacheReadTokens: number;
  @ApiProperty() cacheWriteTokens: number;
  @ApiProperty() costUsd: number;
}

class ResultDto {
  @ApiProperty() summary: string;
  @ApiProperty({ type: [String] }) filesChanged: string[];
}

class FailureDto {
  @ApiProperty({ example: 'PROVIDER_ERROR' }) code: string;
  @ApiProperty() message: string;
}

export class SessionResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() title: string;
  @ApiProperty() prompt: string;
  @ApiProperty() workspace: string;
  @ApiProperty() agent: string;
  @ApiProperty({ nullable: true, type: String }) model: string | null;
  @ApiProperty() timeoutSeconds: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ enum: SessionStatus }) status: SessionStatus;
  @ApiProperty() attempt: number;
  @ApiProperty() version: number;
  @ApiProperty({ nullable: true, type: String }) opencodeSessionId: string | null;
  @ApiProperty({ nullable: true, type: ResultDto }) result: ResultDto | null;
  @ApiProperty({ nullable: true, type: UsageDto }) usage: UsageDto | null;
  @ApiProperty({ nullable: true, type: FailureDto }) error: FailureDto | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) cancelRequestedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) queuedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt: Date | null;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiProperty({ format: 'date-time' }) updatedAt: Date;
}

export class SessionPageDto {
  @ApiProperty({ type: [SessionResponseDto] }) items: SessionResponseDto[];
  @ApiProperty({ nullable: true, type: String }) nextCursor: string | null;
}

export class SessionEventDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: SessionStatus, nullable: true }) from: SessionStatus | null;
  @ApiProperty({ enum: SessionStatus }) to: SessionStatus;
  @ApiProperty() reason: string;
  @ApiProperty() attempt: number;
  @ApiProperty({ format: 'date-time' }) at: Date;
}

export { ErrorResponseDto } from '@app/shared';

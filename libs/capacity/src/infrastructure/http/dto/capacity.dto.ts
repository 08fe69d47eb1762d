import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Matches } from 'class-validator';

/** provider/model, as PROVIDER_LIMITS and OpenCode spell it. */
const MODEL_PATTERN = /^[^/\s*]{1,100}\/[^\s*]{1,200}$/;

export class ModelParamDto {
  @ApiProperty({ description: 'provider/model, URL-encoded', pattern: MODEL_PATTERN.source, example: 'anthropic%2Fclaude-sonnet-4' })
  @Matches(MODEL_PATTERN, { message: 'model must be provider/model' })
  model: string;
}

export class ConcurrencyUsageDto {
  @ApiProperty({ example: 8 }) limit: number;
  @ApiProperty({ example: 3 }) inUse: number;
  @ApiProperty({ type: [String], description: 'Session ids holding a slot', example: ['3f1c…'] }) holders: string[];
  @ApiProperty({ description: 'Sessions refused a slot lately and still asking', example: 2 }) waiting: number;
}

export class WindowUsageDto {
  @ApiProperty({ example: 50 }) limit: number;
  @ApiProperty({ description: 'Counted in the current one-minute window', example: 12 }) used: number;
  @ApiProperty({ description: 'Until the window resets; 0 when none is open', example: 41000 }) resetInMs: number;
}

export class CapacityRuleDto {
  @ApiProperty({ description: 'provider/model, provider/* (one bucket for all its models) or *', example: 'anthropic/*' }) pattern: string;
  @ApiPropertyOptional({ type: ConcurrencyUsageDto }) concurrency?: ConcurrencyUsageDto;
  @ApiPropertyOptional({ type: WindowUsageDto, description: 'Model requests (steps) per minute' }) rpm?: WindowUsageDto;
  @ApiPropertyOptional({ type: WindowUsageDto, description: 'Tokens per minute' }) tpm?: WindowUsageDto;
}

export class ModelMarkDto {
  @ApiProperty({ example: 'openai/gpt-5' }) model: string;
  @ApiProperty({ enum: ['cooldown', 'unavailable'], description: 'cooldown: after a 429; unavailable: quota exhausted' }) kind: string;
  @ApiProperty({ example: '2025-01-01T12:00:00.000Z' }) until: string;
  @ApiProperty({ example: 'quota exhausted' }) why: string;
}

export class CapacityStatusDto {
  @ApiProperty({ type: [CapacityRuleDto], description: 'PROVIDER_LIMITS rules, in their order' }) rules: CapacityRuleDto[];
  @ApiProperty({ type: [ModelMarkDto], description: 'Models cooling down or unavailable now' }) marks: ModelMarkDto[];
}

import { ApiProperty } from '@nestjs/swagger';

/**
 * The Swagger shapes of the kernel's run outcome (TokenUsage, RunResult, RunFailure), one class
 * each for every context's responses: two classes of one name would overwrite each other's schema.
 */
export class TokenUsageDto {
  @ApiProperty() inputTokens: number;
  @ApiProperty() outputTokens: number;
  @ApiProperty() reasoningTokens: number;
  @ApiProperty() cacheReadTokens: number;
  @ApiProperty() cacheWriteTokens: number;
  @ApiProperty() costUsd: number;
}

export class RunResultDto {
  @ApiProperty() summary: string;
  @ApiProperty({ type: [String] }) filesChanged: string[];
}

export class RunFailureDto {
  @ApiProperty({ example: 'PROVIDER_ERROR' }) code: string;
  @ApiProperty() message: string;
}

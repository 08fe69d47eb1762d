import { ApiPropertyOptional, ApiProperty } from '@nestjs/swagger';
import { IsInt, IsNumber, IsOptional, Max, Min } from 'class-validator';

/**
 * The kernel's Budget on the wire, one class for every context (a session's, a plan's, an agent's
 * and an API key's): two classes of one name would overwrite each other's Swagger schema. The
 * domain checks it again (budgetProblem) and names the field it refuses.
 */
export class BudgetDto {
  @ApiPropertyOptional({ minimum: 1, example: 2_000_000, description: 'Tokens of every kind (input, output, reasoning, cache reads and writes)' })
  @IsOptional() @IsInt() @Min(1) @Max(1e12)
  maxTokens?: number;

  @ApiPropertyOptional({ minimum: 0, example: 5, description: 'USD, as the provider prices it (OpenCode computes the cost from the model config)' })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0.000001) @Max(1e7)
  maxCostUsd?: number;

  @ApiPropertyOptional({ minimum: 0, example: 60, description: 'Running time of the sessions counted, minutes' })
  @IsOptional() @IsNumber({ allowNaN: false, allowInfinity: false }) @Min(0.001) @Max(1e7)
  maxMinutes?: number;
}

/** What was spent (the kernel's Spend). */
export class SpendDto {
  @ApiProperty() tokens: number;
  @ApiProperty() costUsd: number;
  @ApiProperty() minutes: number;
}

/** What a day's budget (an agent's, an API key's) stands at: spent this UTC day, and what is left. */
export class SpendTodayDto {
  @ApiProperty({ type: SpendDto, description: 'Spent this UTC day' }) spent: SpendDto;
  @ApiProperty({ type: BudgetDto, nullable: true, description: 'What is left of each set limit (never below 0); null: no budget' })
  remaining: BudgetDto | null;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow, ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsInt, IsISO8601, IsNotEmpty, IsOptional, IsString, MaxLength, Min } from 'class-validator';
import { Budget, Role, ROLES } from '@app/shared';
import { ApiKeyStatus, MAX_KEY_NAME_LENGTH } from '../../../domain/api-key';
import { BudgetDto, SpendTodayDto } from '@app/http';

const BUDGET_DESCRIPTION =
  'Per UTC day, over every session made with the key: {maxTokens?, maxCostUsd?, maxMinutes?}, each above 0; null: no limit. ' +
  'A bad one is 400 KEY_INVALID naming the field (e.g. budget.maxCostUsd)';

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci-pipeline', maxLength: MAX_KEY_NAME_LENGTH })
  @IsString() @IsNotEmpty() @MaxLength(MAX_KEY_NAME_LENGTH)
  name: string;

  @ApiProperty({ enum: ROLES, description: 'viewer: reads; operator: also sessions, plans and approvals; admin: also agents, keys and the job dashboard' })
  @IsIn(ROLES as unknown as string[])
  role: Role;

  @ApiPropertyOptional({
    type: [String],
    example: ['/srv/repos/billing'],
    description: "Directories (inside WORKSPACE_ROOTS) this key's sessions and plans must work in. Default: the creating key's roots (none: any root)",
  })
  @IsOptional() @IsArray() @ArrayMinSize(1) @ArrayMaxSize(50) @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(4096, { each: true })
  workspaceRoots?: string[];

  @ApiPropertyOptional({ format: 'date-time', example: '2030-01-01T00:00:00Z', description: 'After this the key is refused (401); must be in the future' })
  @IsOptional() @IsISO8601({ strict: true }, { message: 'expiresAt must be an ISO 8601 date-time' })
  expiresAt?: string;

  // Checked in the domain with budgetProblem (one rule for every context): only let through here.
  @ApiPropertyOptional({ type: BudgetDto, nullable: true, description: BUDGET_DESCRIPTION })
  @Allow()
  budget?: Budget | null;
}

export class UpdateApiKeyDto {
  @ApiProperty({ description: 'The version you read; a stale one gets 409 KEY_VERSION_CONFLICT' })
  @IsInt() @Min(1)
  version: number;

  @ApiProperty({ type: BudgetDto, nullable: true, description: `${BUDGET_DESCRIPTION}. Replaces the whole budget` })
  @Allow()
  budget: Budget | null;
}

export class ApiKeyResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: ROLES }) role: Role;
  @ApiProperty({ type: [String], nullable: true, description: 'Realpaths; null: any of WORKSPACE_ROOTS' }) workspaceRoots: string[] | null;
  @ApiProperty({ example: 'oio_AbCdEfGh', description: "The secret's first characters, to tell keys apart" }) prefix: string;
  @ApiProperty({ enum: ['active', 'revoked', 'expired'] }) status: ApiKeyStatus;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) expiresAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) revokedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, description: "The key that made it ('bootstrap': API_KEY; null: authentication was off)" })
  createdByKeyId: string | null;
  @ApiProperty({ type: BudgetDto, nullable: true, description: 'Per UTC day over every session made with the key; null: no limit' })
  budget: Budget | null;
  @ApiProperty({ type: SpendTodayDto }) spendToday: SpendTodayDto;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiProperty({ format: 'date-time' }) updatedAt: Date;
  @ApiProperty() version: number;
}

export class CreatedApiKeyResponseDto extends ApiKeyResponseDto {
  @ApiProperty({ example: 'oio_AbCdEfGh…', description: 'The secret: shown this once, stored only as a hash. Send it as Authorization: Bearer <key>' })
  key: string;
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
  ValidationArguments,
} from 'class-validator';
import {
  MAX_CONCURRENT_LIMIT,
  MAX_FALLBACK_MODELS,
  MAX_MODEL_LENGTH,
  MAX_PERMISSIONS,
  MAX_STEPS_LIMIT,
  MODEL_PATTERN,
  ORCHESTRATOR_DENIED_PERMISSIONS,
  PERMISSION_ACTIONS,
  PERMISSION_NAME_PATTERN,
  PermissionAction,
  TOOL_PATTERN,
} from '../../../domain/agent';
import { AGENT_ROLES, AgentRole } from '../../../domain/agent-role';
import { MAX_LEVEL, MIN_LEVEL, SKILL_PATTERN } from '../../../domain/capability';
import { PerformanceTier } from '../../../domain/performance';
import { SkipReason } from '../../../domain/routing';
import { BudgetDto, SpendTodayDto } from '@app/http';

const SKILL_MESSAGE = 'must be a skill tag: lowercase letters, digits and + # . _ -, at most 40 characters';
const SKIP_REASONS: SkipReason[] = ['DISABLED', 'ROLE_MISMATCH', 'SATURATED', 'NO_SKILL_MATCH'];

/** The first problem of a binding's permissions map, or null when it is valid (the domain checks the same). */
function permissionsProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return 'binding.permissions must be an object of OpenCode permission name → allow, ask or deny';
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_PERMISSIONS) return `binding.permissions must have at most ${MAX_PERMISSIONS} entries`;
  for (const [name, action] of entries) {
    if (!PERMISSION_NAME_PATTERN.test(name)) {
      return `binding.permissions has "${name}", which is not an OpenCode permission name (a lowercase identifier, e.g. bash)`;
    }
    if (!PERMISSION_ACTIONS.includes(action as PermissionAction)) return `binding.permissions.${name} must be allow, ask or deny`;
    if (ORCHESTRATOR_DENIED_PERMISSIONS.includes(name) && action !== 'deny') {
      return `binding.permissions.${name} is always denied by the orchestrator, whatever a binding says; only "deny" may be given`;
    }
  }
  return null;
}

const IsPermissionMap = () =>
  ValidateBy({
    name: 'isPermissionMap',
    validator: {
      validate: (value: unknown) => permissionsProblem(value) === null,
      defaultMessage: (args?: ValidationArguments) => permissionsProblem(args?.value) ?? 'binding.permissions is invalid',
    },
  });

const PERMISSIONS_EXAMPLE = { bash: 'ask', webfetch: 'deny' };

class CapabilityDto {
  @ApiProperty({ example: 'typescript', pattern: SKILL_PATTERN.source })
  @IsString() @Matches(SKILL_PATTERN, { message: `skill ${SKILL_MESSAGE}` })
  skill: string;

  @ApiProperty({ minimum: MIN_LEVEL, maximum: MAX_LEVEL, example: 4, description: '1 (can follow examples) to 5 (expert)' })
  @IsInt() @Min(MIN_LEVEL) @Max(MAX_LEVEL)
  level: number;
}

class AgentBindingDto {
  @ApiPropertyOptional({ example: 'build', description: 'OpenCode agent the prompt goes to; default plan for ARCHITECT and REVIEWER, build otherwise' })
  @IsOptional() @IsString() @Matches(TOOL_PATTERN, { message: 'binding.opencodeAgent must be an OpenCode agent name (e.g. build, plan)' })
  opencodeAgent?: string;

  @ApiPropertyOptional({ nullable: true, type: String, example: 'anthropic/claude-sonnet-4', description: '"provider/model"; null: the server\'s default' })
  @ValidateIf((_o, v) => v !== null && v !== undefined)
  @IsString() @MaxLength(200) @Matches(MODEL_PATTERN, { message: 'binding.model must look like provider/model' })
  model?: string | null;

  @ApiPropertyOptional({ maxLength: 20_000, description: 'Extra system instructions sent with every prompt' })
  @IsOptional() @IsString() @MaxLength(20_000)
  systemInstructions?: string;

  @ApiPropertyOptional({ type: [String], example: ['webfetch'], description: 'OpenCode tools switched off; ARCHITECT and REVIEWER always get the writing tools added' })
  @IsOptional() @IsArray() @ArrayMaxSize(100) @Matches(TOOL_PATTERN, { each: true, message: 'each of binding.disabledTools must be a tool name' })
  disabledTools?: string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', enum: [...PERMISSION_ACTIONS] },
    example: PERMISSIONS_EXAMPLE,
    description:
      'OpenCode permission (edit, bash, webfetch, websearch, task, read, glob, grep, list, todowrite, skill, doom_loop, ...) → ' +
      'allow | ask | deny, applied to every session of this agent after OpenCode\'s own rules; replaces the whole map. ' +
      'external_directory and question are always denied. ARCHITECT and REVIEWER keep read and search tools only: ' +
      'for them only a deny (or an ask on a read tool) takes effect. ask becomes an approval.',
  })
  @IsOptional() @IsPermissionMap()
  permissions?: Record<string, PermissionAction>;

  @ApiPropertyOptional({
    type: [String],
    maxItems: MAX_FALLBACK_MODELS,
    example: ['openai/gpt-5', 'anthropic/claude-haiku-4-5'],
    description: `"provider/model"s used in this order when the model is at quota, failing or saturated; at most ${MAX_FALLBACK_MODELS}, distinct, none equal to model. Replaces the whole list; default []`,
  })
  @IsOptional() @IsArray() @ArrayMaxSize(MAX_FALLBACK_MODELS, { message: `binding.fallbackModels must have at most ${MAX_FALLBACK_MODELS} models` })
  @IsString({ each: true }) @MaxLength(MAX_MODEL_LENGTH, { each: true })
  @Matches(MODEL_PATTERN, { each: true, message: 'each of binding.fallbackModels must look like provider/model' })
  fallbackModels?: string[];

  @ApiPropertyOptional({
    nullable: true,
    type: Number,
    minimum: 1,
    maximum: MAX_STEPS_LIMIT,
    description: 'Model steps one turn of this agent may take; null: the default (TURN_MAX_STEPS)',
  })
  @ValidateIf((_o, v) => v !== null && v !== undefined)
  @IsInt({ message: 'binding.maxSteps must be an integer or null' }) @Min(1) @Max(MAX_STEPS_LIMIT)
  maxSteps?: number | null;
}

const BUDGET_DESCRIPTION =
  'Per UTC day, over every session the agent runs: {maxTokens?, maxCostUsd?, maxMinutes?}, each above 0; null: no limit. ' +
  'Checked by the domain: a bad one is 400 AGENT_INVALID naming the field (e.g. budget.maxCostUsd)';

export class CreateAgentDto {
  @ApiProperty({ example: 'backend-implementer', maxLength: 100, description: 'Unique among live agents (case-insensitive)' })
  @IsString() @IsNotEmpty() @MaxLength(100)
  name: string;

  @ApiProperty({ enum: AgentRole })
  @IsIn(AGENT_ROLES, { message: `role must be one of ${AGENT_ROLES.join(', ')}` })
  role: AgentRole;

  @ApiProperty({ type: [CapabilityDto] })
  @IsArray() @ArrayMaxSize(50) @ValidateNested({ each: true }) @Type(() => CapabilityDto)
  capabilities: CapabilityDto[];

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CONCURRENT_LIMIT, default: 5, description: 'Sessions QUEUED or RUNNING at once' })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_CONCURRENT_LIMIT)
  maxConcurrentSessions?: number;

  @ApiPropertyOptional({ default: true })
  @IsOptional() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ type: AgentBindingDto })
  @IsOptional() @ValidateNested() @Type(() => AgentBindingDto)
  binding?: AgentBindingDto;

  // Checked in the domain with budgetProblem (one rule for every context): only let through here.
  @ApiPropertyOptional({ type: BudgetDto, nullable: true, description: BUDGET_DESCRIPTION })
  @Allow()
  budget?: BudgetDto | null;
}

export class UpdateAgentDto {
  @ApiProperty({ description: 'The version you read; a stale one gets 409 AGENT_VERSION_CONFLICT' })
  @IsInt() @Min(1)
  version: number;

  @ApiPropertyOptional({ maxLength: 100 })
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(100)
  name?: string;

  @ApiPropertyOptional({ enum: AgentRole })
  @IsOptional() @IsIn(AGENT_ROLES, { message: `role must be one of ${AGENT_ROLES.join(', ')}` })
  role?: AgentRole;

  @ApiPropertyOptional({ type: [CapabilityDto], description: 'Replaces the whole list' })
  @IsOptional() @IsArray() @ArrayMaxSize(50) @ValidateNested({ each: true }) @Type(() => CapabilityDto)
  capabilities?: CapabilityDto[];

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_CONCURRENT_LIMIT })
  @IsOptional() @IsInt() @Min(1) @Max(MAX_CONCURRENT_LIMIT)
  maxConcurrentSessions?: number;

  @ApiPropertyOptional()
  @IsOptional() @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ type: AgentBindingDto, description: 'Only the fields given change' })
  @IsOptional() @ValidateNested() @Type(() => AgentBindingDto)
  binding?: AgentBindingDto;

  @ApiPropertyOptional({ type: BudgetDto, nullable: true, description: `${BUDGET_DESCRIPTION}. Replaces the whole budget; absent: unchanged` })
  @Allow()
  budget?: BudgetDto | null;
}

const toBoolean = ({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value);

export class ListAgentsQueryDto {
  @ApiPropertyOptional({ enum: AgentRole })
  @IsOptional() @IsIn(AGENT_ROLES, { message: `role must be one of ${AGENT_ROLES.join(', ')}` })
  role?: AgentRole;

  @ApiPropertyOptional({ type: Boolean })
  @IsOptional() @Transform(toBoolean) @IsBoolean({ message: 'enabled must be true or false' })
  enabled?: boolean;
}

export class PerformanceQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 50, description: 'Size of the recent window, in counted runs' })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000)
  lastN?: number;
}

export class RouteWorkDto {
  @ApiPropertyOptional({ enum: AgentRole, description: 'Only agents of this role are eligible' })
  @IsOptional() @IsIn(AGENT_ROLES, { message: `role must be one of ${AGENT_ROLES.join(', ')}` })
  role?: AgentRole;

  @ApiProperty({ type: [String], example: ['typescript', 'sql'], description: 'Skill tags the work needs; [] matches every agent' })
  @IsArray() @ArrayMaxSize(20) @Matches(SKILL_PATTERN, { each: true, message: `each of skills ${SKILL_MESSAGE}` })
  skills: string[];

  @ApiProperty({ minimum: 1, maximum: 10, example: 6, description: 'Sets the skill level needed: ceil(complexity / 2)' })
  @IsInt() @Min(1) @Max(10)
  complexity: number;
}

class AgentBindingResponseDto {
  @ApiProperty() opencodeAgent: string;
  @ApiProperty({ nullable: true, type: String }) model: string | null;
  @ApiProperty() systemInstructions: string;
  @ApiProperty({ type: [String] }) disabledTools: string[];
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string', enum: [...PERMISSION_ACTIONS] }, example: PERMISSIONS_EXAMPLE })
  permissions: Record<string, PermissionAction>;
  @ApiProperty({ type: [String] }) fallbackModels: string[];
  @ApiProperty({ nullable: true, type: Number, description: 'null: the default (TURN_MAX_STEPS)' }) maxSteps: number | null;
}

export class AgentResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: AgentRole }) role: AgentRole;
  @ApiProperty({ description: 'ARCHITECT and REVIEWER: their sessions get read and search tools only' }) readOnly: boolean;
  @ApiProperty({ type: [CapabilityDto] }) capabilities: CapabilityDto[];
  @ApiProperty() maxConcurrentSessions: number;
  @ApiProperty() enabled: boolean;
  @ApiProperty({ type: AgentBindingResponseDto }) binding: AgentBindingResponseDto;
  @ApiProperty({ type: BudgetDto, nullable: true, description: 'Per UTC day over every session of the agent; null: no limit' }) budget: BudgetDto | null;
  @ApiProperty({ type: SpendTodayDto }) spendToday: SpendTodayDto;
  @ApiProperty() version: number;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiProperty({ format: 'date-time' }) updatedAt: Date;
}

class PerformanceSummaryDto {
  @ApiProperty({ description: 'Counted runs (cancelled runs are left out)' }) runs: number;
  @ApiProperty() successes: number;
  @ApiProperty({ nullable: true, type: Number }) successRate: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Mean review score, 0-10' }) meanQuality: number | null;
  @ApiProperty({ description: 'Runs a review scored' }) scoredRuns: number;
  @ApiProperty({ nullable: true, type: Number }) meanCostUsd: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Total cost / successes' }) costPerSuccessUsd: number | null;
  @ApiProperty({ nullable: true, type: Number }) p50DurationMs: number | null;
  @ApiProperty({ nullable: true, type: Number }) p95DurationMs: number | null;
}

class TierThresholdDto {
  @ApiProperty({ enum: PerformanceTier }) tier: PerformanceTier;
  @ApiProperty() minRuns: number;
  @ApiProperty() minSuccessRate: number;
  @ApiProperty() minQuality: number;
}

export class AgentPerformanceDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty({ enum: PerformanceTier, description: 'From the last 50 counted runs' }) tier: PerformanceTier;
  @ApiProperty() lastN: number;
  @ApiProperty({ type: PerformanceSummaryDto, description: 'The last lastN counted runs' }) recent: PerformanceSummaryDto;
  @ApiProperty({ type: PerformanceSummaryDto }) allTime: PerformanceSummaryDto;
  @ApiProperty({ type: [TierThresholdDto] }) thresholds: TierThresholdDto[];
}

class ScorePartDto {
  @ApiProperty({ description: '0 to 1' }) value: number;
  @ApiProperty() weight: number;
  @ApiProperty({ description: 'value x weight' }) contribution: number;
  @ApiProperty() why: string;
}

class ScorePartsDto {
  @ApiProperty({ type: ScorePartDto }) skill: ScorePartDto;
  @ApiProperty({ type: ScorePartDto }) successRate: ScorePartDto;
  @ApiProperty({ type: ScorePartDto }) quality: ScorePartDto;
  @ApiProperty({ type: ScorePartDto }) tier: ScorePartDto;
  @ApiProperty({ type: ScorePartDto }) cost: ScorePartDto;
  @ApiProperty({ type: ScorePartDto }) load: ScorePartDto;
}

class RankedAgentDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: AgentRole }) role: AgentRole;
  @ApiProperty({ enum: PerformanceTier }) tier: PerformanceTier;
  @ApiProperty({ description: '0 to 1, the sum of the contributions' }) score: number;
  @ApiProperty({ type: ScorePartsDto }) parts: ScorePartsDto;
}

class SkippedAgentDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty() name: string;
  @ApiProperty({ enum: SKIP_REASONS }) reason: SkipReason;
  @ApiProperty() why: string;
}

export class RoutingDecisionDto {
  @ApiProperty({ type: [RankedAgentDto], description: 'Best first; equal scores by name, then id' }) ranked: RankedAgentDto[];
  @ApiProperty({ type: [SkippedAgentDto] }) skipped: SkippedAgentDto[];
}

import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsUUID,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { BudgetDto, RunFailureDto, RunResultDto, TokenUsageDto } from '@app/http';
import { SessionStatus } from '../../../domain/session-status';
import { SESSION_ISOLATIONS, SessionIsolation } from '../../../domain/session-worktree';
import { SessionChangesDto, SessionWorktreeDto } from './session-worktree.dto';

/** The orchestrator agent roles (the agent context's AgentRole values). */
const SESSION_AGENT_ROLES = ['ARCHITECT', 'IMPLEMENTER', 'REVIEWER', 'DEBUGGER'];

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

  @ApiPropertyOptional({
    example: 'build',
    default: 'build',
    description: 'The OpenCode agent (build, plan, ...) the turn runs with; not an orchestrator agent (agentId). Left out with agentId, role, skills or reviewOf: the agent\'s binding decides it',
  })
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

  @ApiPropertyOptional({ format: 'uuid', description: 'Run it on this orchestrator agent (its binding decides the OpenCode agent, model, system instructions and tools)' })
  @IsOptional() @IsUUID()
  agentId?: string;

  @ApiPropertyOptional({ enum: SESSION_AGENT_ROLES, description: 'Route it to the best agent of this role (by skills and past results)' })
  @IsOptional() @IsIn(SESSION_AGENT_ROLES)
  role?: string;

  @ApiPropertyOptional({ type: [String], example: ['typescript', 'sql'], description: 'Skills the work needs (routing input)' })
  @IsOptional() @IsArray() @ArrayMaxSize(50) @Matches(/^[a-z0-9][a-z0-9+#._-]{0,39}$/, { each: true, message: 'each skill must be a lowercase tag such as typescript or c++' })
  skills?: string[];

  @ApiPropertyOptional({ minimum: 1, maximum: 10, default: 5, description: 'How hard the work is; sets the skill level routing asks for' })
  @IsOptional() @IsInt() @Min(1) @Max(10)
  complexity?: number;

  @ApiPropertyOptional({ format: 'uuid', description: "The session whose work this one reviews: the review's QUALITY score is credited to that session's agent" })
  @IsOptional() @IsUUID()
  reviewOf?: string;

  @ApiPropertyOptional({
    enum: SESSION_ISOLATIONS,
    description: 'worktree: its own git worktree and branch (default when the workspace is in a git work tree with a commit); shared: the workspace itself, one session at a time',
  })
  @IsOptional() @IsIn(SESSION_ISOLATIONS)
  isolation?: SessionIsolation;

  @ApiPropertyOptional({ example: 'main', description: "The branch or commit the session's branch is made from; default: the workspace's HEAD (worktree only)" })
  @IsOptional() @IsString() @MaxLength(200)
  baseRef?: string;

  @ApiPropertyOptional({ type: BudgetDto, description: 'Limits on what one attempt may spend; reaching one stops the turn (FAILED, BUDGET_EXCEEDED). Its plan, agent and API key budgets hold too' })
  @IsOptional() @ValidateNested() @Type(() => BudgetDto)
  budget?: BudgetDto;
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

  @ApiPropertyOptional({ type: BudgetDto, nullable: true, description: 'The budget of its next run (null: none); a running turn keeps the one it started with' })
  @IsOptional() @ValidateNested() @Type(() => BudgetDto)
  budget?: BudgetDto | null;
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



class RoutingDto {
  @ApiProperty({ nullable: true, type: String, example: 'REVIEWER' }) requestedRole: string | null;
  @ApiProperty({ type: [String] }) skills: string[];
  @ApiProperty() complexity: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Routing score (null when the agent was named)' }) score: number | null;
}

class AssignmentDto {
  @ApiProperty({ format: 'uuid' }) agentId: string;
  @ApiProperty({ example: 'reviewer' }) agentName: string;
  @ApiProperty({ example: 'REVIEWER' }) role: string;
  @ApiProperty() systemInstructions: string;
  @ApiProperty({ type: [String] }) disabledTools: string[];
  @ApiProperty({ description: 'Read and search tools only (ARCHITECT, REVIEWER), whatever OpenCode agent the binding names' }) readOnly: boolean;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string', enum: ['allow', 'ask', 'deny'] },
    example: { bash: 'ask' },
    description: "The agent binding's OpenCode permissions, as snapshotted when the session was created",
  })
  permissions: Record<string, 'allow' | 'ask' | 'deny'>;
  @ApiProperty({ type: RoutingDto }) routing: RoutingDto;
  @ApiProperty({ nullable: true, type: String, format: 'uuid' }) reviewOf: string | null;
}

class SessionOriginDto {
  @ApiProperty({ enum: ['api', 'plan'], description: 'api: made through POST /api/v1/sessions; plan: made by a plan for one of its tasks' })
  kind: 'api' | 'plan';
  @ApiPropertyOptional({ format: 'uuid', description: 'plan only' }) planId?: string;
  @ApiPropertyOptional({ example: 'implA', description: 'plan only: the task key' }) taskKey?: string;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'uuid', description: 'plan only: the failed session a Debugger retry follows up' })
  retryOf?: string | null;
}


/** An OpenCode permission request the running session waits on (answer: POST /api/v1/approvals/:id). */
export class AwaitingApprovalDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'edit' }) permission: string;
  @ApiProperty({ type: [String] }) patterns: string[];
  @ApiProperty({ example: 'edit src/a.ts' }) title: string;
  @ApiProperty({ format: 'date-time', description: 'Unanswered by then: denied (EXPIRED)' }) expiresAt: Date;
}

export class SessionResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() title: string;
  @ApiProperty() prompt: string;
  @ApiProperty() workspace: string;
  @ApiProperty({ example: 'build', description: 'The OpenCode agent (build, plan, ...) the turn runs with' }) agent: string;
  @ApiProperty({ nullable: true, type: String }) model: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'The model its current attempt runs (ran) on: its model or the server default, or a fallback model of its agent' })
  modelUsed: string | null;
  @ApiProperty({ nullable: true, type: BudgetDto, description: 'Limits on what one attempt may spend' }) budget: BudgetDto | null;
  @ApiProperty({ nullable: true, type: String, format: 'uuid', description: 'The orchestrator agent that runs it' }) agentId: string | null;
  @ApiProperty({ nullable: true, type: AssignmentDto }) assignment: AssignmentDto | null;
  @ApiProperty() timeoutSeconds: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metadata: Record<string, unknown>;
  @ApiProperty({ type: SessionOriginDto, description: 'Why the session exists; set at creation' }) origin: SessionOriginDto;
  @ApiProperty({ nullable: true, type: String, description: "The API key that made it ('bootstrap': API_KEY; null: authentication was off)" })
  createdByKeyId: string | null;
  @ApiProperty({ enum: SESSION_ISOLATIONS }) isolation: SessionIsolation;
  @ApiProperty({ nullable: true, type: SessionChangesDto, description: 'worktree only: its branch and what its commits changed' }) changes: SessionChangesDto | null;
  @ApiProperty({ nullable: true, type: SessionWorktreeDto, description: 'worktree only: where it works and what became of its branch' }) worktree: SessionWorktreeDto | null;
  @ApiProperty({ enum: SessionStatus }) status: SessionStatus;
  @ApiProperty() attempt: number;
  @ApiProperty() version: number;
  @ApiProperty({ nullable: true, type: String }) opencodeSessionId: string | null;
  @ApiProperty({ nullable: true, type: RunResultDto }) result: RunResultDto | null;
  @ApiProperty({ nullable: true, type: TokenUsageDto }) usage: TokenUsageDto | null;
  @ApiProperty({ nullable: true, type: RunFailureDto }) error: RunFailureDto | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) cancelRequestedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) queuedAt: Date | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'QUEUED: when it first found its workspace (or every worktree slot) busy; it gives up TIMED_OUT WORKSPACE_BUSY timeoutSeconds later. Null once it runs',
  })
  waitingSince: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt: Date | null;
  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'When retention emptied its output text (result.summary), RETENTION_DAYS after it finished; null: not pruned',
  })
  prunedAt: Date | null;
  @ApiProperty({ format: 'date-time' }) createdAt: Date;
  @ApiProperty({ format: 'date-time' }) updatedAt: Date;
  @ApiProperty({
    type: [AwaitingApprovalDto],
    description: "The PENDING approvals of the session's current attempt: its turn waits on them (its timeout keeps running). Empty when none",
  })
  awaitingApproval: AwaitingApprovalDto[];
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

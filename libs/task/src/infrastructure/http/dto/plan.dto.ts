import { ApiProperty, ApiPropertyOptional, OmitType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { Allow, ArrayMaxSize, IsArray, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { Budget } from '@app/shared';
import { BudgetDto, RunFailureDto, RunResultDto, SpendDto, TokenUsageDto } from '@app/http';
import { PlanStatus, TaskStatus } from '../../../domain/plan-status';

const PLAN_TEMPLATES = ['MICROSERVICE', 'CRUD', 'SECURITY'] as const;
const MERGE_STRATEGIES = ['merge', 'squash', 'rebase'] as const;
const MAX_PLAN_TASKS = 500;

class TaskSpecDto {
  @ApiProperty({ example: 'implA', description: 'Unique in the plan: letters, digits and . _ -, at most 64' }) key: string;
  @ApiProperty({ example: 'Implement part A' }) title: string;
  @ApiProperty({ example: 'Write a.ts exporting a(). [[write a.ts]]export const a = 1;[[/write]]' }) instructions: string;
  @ApiProperty({ enum: ['ARCHITECT', 'IMPLEMENTER', 'REVIEWER', 'DEBUGGER'] }) role: string;
  @ApiPropertyOptional({ type: [String], default: [], example: ['typescript'] }) skills?: string[];
  @ApiPropertyOptional({ minimum: 1, maximum: 10, default: 5 }) complexity?: number;
  @ApiPropertyOptional({ minimum: 1, default: 30 }) estimateMinutes?: number;
  @ApiPropertyOptional({ type: [String], default: [], example: ['design'] }) dependsOn?: string[];
}

const BUDGET_DESCRIPTION =
  'What all its tasks together may spend (null: no limit). Before a task starts, its forecast must fit what is left, else the plan is PAUSED (pausedReason BUDGET); a running session is stopped at the limit. 400 VALIDATION_FAILED names the field (details.field, e.g. budget.maxCostUsd)';

export class CreatePlanDto {
  @ApiProperty({ example: 'Add a CRUD REST API for orders with PostgreSQL', maxLength: 10_000 })
  @IsString() @IsNotEmpty() @MaxLength(10_000)
  requirement: string;

  @ApiProperty({ example: '/srv/repos/shop', description: 'Absolute path of an existing directory; every task of the plan works in it' })
  @IsString() @IsNotEmpty() @MaxLength(4096)
  workspace: string;

  @ApiPropertyOptional({ enum: PLAN_TEMPLATES, description: 'Decompose with this template (default: chosen from the text); ignored with tasks' })
  @IsOptional() @IsIn(PLAN_TEMPLATES)
  template?: (typeof PLAN_TEMPLATES)[number];

  @ApiPropertyOptional({
    type: [TaskSpecDto],
    description: 'Your own task graph instead of a decomposition. Checked as a whole: 400 PLAN_INVALID lists every problem with the tasks it names (cycle, missing dependency, duplicate key, self-dependency, bad field)',
  })
  @IsOptional() @IsArray() @ArrayMaxSize(MAX_PLAN_TASKS)
  tasks?: unknown[];

  // Checked by the domain (budgetProblem), which names the field.
  @ApiPropertyOptional({ type: BudgetDto, nullable: true, description: BUDGET_DESCRIPTION })
  @IsOptional()
  budget?: Budget | null;
}

export class UpdatePlanDto {
  @ApiProperty({ description: 'The version you read; a stale one gets 409 PLAN_VERSION_CONFLICT' })
  @IsInt() @Min(1)
  version: number;

  @ApiProperty({ type: BudgetDto, nullable: true, description: `${BUDGET_DESCRIPTION}. Raising it does not resume a PAUSED plan: POST run does` })
  @Allow()
  budget: Budget | null;
}

export class ListPlansQueryDto {
  @ApiPropertyOptional({ enum: PlanStatus })
  @IsOptional() @IsIn(Object.values(PlanStatus))
  status?: PlanStatus;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(100)
  limit?: number;
}

/** A plan's or task's usage summed over its sessions, with the total it is often read for. */
export class PlanUsageDto extends TokenUsageDto {
  @ApiProperty({ description: 'inputTokens + outputTokens + reasoningTokens' }) totalTokens: number;
}

export class MergePlanDto {
  @ApiPropertyOptional({ example: 'main', description: 'The branch to merge the plan into (default: the branch checked out at the repository top; required when its HEAD is detached)' })
  @IsOptional() @IsString() @IsNotEmpty() @MaxLength(200)
  target?: string;

  @ApiPropertyOptional({ enum: MERGE_STRATEGIES, default: 'merge' })
  @IsOptional() @IsIn(MERGE_STRATEGIES)
  strategy?: (typeof MERGE_STRATEGIES)[number];
}

export class PlanMergeResultDto {
  @ApiProperty({ description: "The target's commit after the merge" }) commit: string;
  @ApiProperty() target: string;
  @ApiProperty({ enum: MERGE_STRATEGIES }) strategy: string;
  @ApiProperty({ enum: ['merged', 'up-to-date'] }) status: string;
}

class TaskSessionChangesDto {
  @ApiProperty({ description: "The session's own branch" }) branch: string;
  @ApiProperty() baseCommit: string;
  @ApiProperty() headCommit: string;
  @ApiProperty({ type: [String] }) files: string[];
  @ApiProperty() insertions: number;
  @ApiProperty() deletions: number;
}

class TaskSessionDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: ['TASK', 'DEBUG_RETRY', 'RESOLVER'], description: 'RESOLVER: a DEBUGGER session resolving its branch\'s merge conflict' }) kind: string;
  @ApiProperty() role: string;
  @ApiProperty({ nullable: true, type: String }) agentId: string | null;
  @ApiProperty({ description: 'The session status now; "DELETED" when the session was deleted' }) status: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt: Date | null;
  @ApiProperty({ nullable: true, type: PlanUsageDto }) usage: PlanUsageDto | null;
  @ApiProperty({ nullable: true, type: RunFailureDto }) error: RunFailureDto | null;
  @ApiProperty({ nullable: true, type: TaskSessionChangesDto, description: 'What it committed on its own branch; null in a shared workspace' })
  changes: TaskSessionChangesDto | null;
}

class TaskMergeDto {
  @ApiProperty({ format: 'uuid', description: 'The session whose branch is (or was) merged: the task\'s own, or its last resolver\'s' }) source: string;
  @ApiProperty({ type: String, format: 'date-time', description: 'When it joined the merge queue (first come, first merged)' }) queuedAt: Date;
  @ApiProperty({ type: [String], description: 'The files the last merge attempt conflicted on' }) conflicts: string[];
  @ApiProperty({ nullable: true, type: String, description: "The integration branch's commit once merged" }) commit: string | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) mergedAt: Date | null;
}

export class PlanTaskDto {
  @ApiProperty() key: string;
  @ApiProperty() title: string;
  @ApiProperty() instructions: string;
  @ApiProperty() role: string;
  @ApiProperty({ type: [String] }) skills: string[];
  @ApiProperty() complexity: number;
  @ApiProperty() estimateMinutes: number;
  @ApiProperty({ type: [String] }) dependsOn: string[];
  @ApiProperty({ enum: TaskStatus }) status: TaskStatus;
  @ApiProperty({ description: '0 not started, 1 its own session, 2 the Debugger retry' }) attempt: number;
  @ApiProperty({ nullable: true, type: String, description: 'The session of the current attempt' }) sessionId: string | null;
  @ApiProperty({ type: [String] }) sessionIds: string[];
  @ApiProperty({ type: [TaskSessionDto] }) sessions: TaskSessionDto[];
  @ApiProperty({ nullable: true, type: String }) agentId: string | null;
  @ApiProperty({ type: PlanUsageDto, description: 'Summed over its sessions' }) usage: PlanUsageDto;
  @ApiProperty({ nullable: true, type: RunResultDto }) result: RunResultDto | null;
  @ApiProperty({ nullable: true, type: RunFailureDto }) error: RunFailureDto | null;
  @ApiProperty({ nullable: true, type: TaskMergeDto, description: "Its branch's way into the plan's integration branch; null in a shared workspace or before its session completed" })
  merge: TaskMergeDto | null;
  @ApiProperty({ description: 'Minutes it may slip without delaying the plan (by estimates)' }) slack: number;
  @ApiProperty() critical: boolean;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt: Date | null;
  @ApiProperty() version: number;
}

class PlanProgressDto {
  @ApiProperty() total: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'Tasks by status (every status, 0 included)' })
  byStatus: Record<string, number>;
  @ApiProperty({ description: 'Tasks in a final status, in percent (0-100, rounded down)' }) percent: number;
}

class PlanBranchDto {
  @ApiProperty({ example: 'orchestrator/plan-1a2b3c4d' }) name: string;
  @ApiProperty({ description: 'The top of the git work tree the workspace is in' }) repository: string;
  @ApiProperty({ description: "The workspace's HEAD when the plan was run" }) baseCommit: string;
}

class PlanBranchDetailDto extends PlanBranchDto {
  @ApiProperty({ nullable: true, type: String, description: 'Its head now; null when the branch no longer exists' }) headCommit: string | null;
  @ApiProperty({ type: [String], description: 'Files changed from baseCommit to headCommit' }) files: string[];
  @ApiProperty() insertions: number;
  @ApiProperty() deletions: number;
}

export class PlanSpendDto {
  @ApiProperty({ type: SpendDto, description: "What the plan's sessions spent so far (running ones included)" }) spent: SpendDto;
  @ApiProperty({
    type: SpendDto,
    description:
      "Forecast of its tasks not started yet (PENDING): per task, the routed agent's mean cost and median minutes over its recent runs scaled by the task's complexity / the agent's mean task complexity, or without history PLAN_TASK_COST_PRIOR_USD × complexity and the task's estimateMinutes; tokens = cost / 0.000006 USD",
  })
  forecast: SpendDto;
  @ApiProperty({ type: BudgetDto, nullable: true, description: 'What is left of each limit set (never below 0); null without a budget' }) remaining: BudgetDto | null;
}

export class PlanSummaryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() requirement: string;
  @ApiProperty() workspace: string;
  @ApiProperty({ nullable: true, type: String, description: 'The decomposition template; null when the tasks were given' }) template: string | null;
  @ApiProperty({ nullable: true, type: String, description: "The API key that made it ('bootstrap': API_KEY; null: authentication was off); its task sessions carry it too" })
  createdByKeyId: string | null;
  @ApiProperty({
    nullable: true,
    type: PlanBranchDto,
    description: 'Its integration branch, made when it is run in a git workspace (every task works on a branch of its own, merged into it); null: its tasks share the workspace',
  })
  branch: PlanBranchDto | null;
  @ApiProperty({ enum: PlanStatus, description: 'PAUSED: nothing new starts (see pausedReason); running tasks finish; POST run resumes it' }) status: PlanStatus;
  @ApiProperty({ type: BudgetDto, nullable: true, description: 'What all its tasks together may spend; null: no limit' }) budget: BudgetDto | null;
  @ApiProperty({ enum: ['BUDGET'], nullable: true, type: String, description: "Why it is PAUSED: BUDGET, the next task's forecast does not fit what is left (or a session was stopped at the limit)" })
  pausedReason: 'BUDGET' | null;
  @ApiProperty({ nullable: true, type: String, description: 'Which task did not fit, and by how much' }) pausedMessage: string | null;
  @ApiProperty({ nullable: true, type: RunFailureDto }) error: RunFailureDto | null;
  @ApiProperty() version: number;
  @ApiProperty({ type: String, format: 'date-time' }) createdAt: Date;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) startedAt: Date | null;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) finishedAt: Date | null;
}

export class PlanResponseDto extends OmitType(PlanSummaryDto, ['branch'] as const) {
  @ApiProperty({ nullable: true, type: PlanBranchDetailDto, description: 'The integration branch with its head and the totals of its changes since baseCommit' })
  branch: PlanBranchDetailDto | null;
  @ApiProperty() chosenBecause: string;
  @ApiProperty({ type: Object, description: '{score 1-10, signals[{name, weight, detail}]}' }) complexity: object;
  @ApiProperty({ type: Object, description: 'order, levels, criticalPath, minimumMinutes, agents, minimumMinutesWithAgents, totalMinutes, maxParallelism, schedule' })
  analysis: object;
  @ApiProperty({ type: [String] }) criticalPath: string[];
  @ApiProperty({
    description: "The plan's parallel-task limit when it was made (MAX_CONCURRENT_SESSIONS then), the agents its analysis assumes; a running plan starts at most the running process's MAX_CONCURRENT_SESSIONS tasks at once",
  })
  maxConcurrentSessions: number;
  @ApiProperty({ type: PlanProgressDto }) progress: PlanProgressDto;
  @ApiProperty({ type: PlanUsageDto }) totals: PlanUsageDto;
  @ApiProperty({ type: PlanSpendDto, description: 'Spent, forecast of the tasks not started yet, and what is left of the budget' }) spend: PlanSpendDto;
  @ApiProperty({ type: [PlanTaskDto] }) tasks: PlanTaskDto[];
}

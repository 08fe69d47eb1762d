import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post, Query } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { assertPrincipalReaches, CurrentPrincipal, ErrorResponseDto, IdParam, KeyedApi, RequireRole } from '@app/http';
import { Principal } from '@app/shared';
import { PlanService } from '../../application/plan.service';
import { CreatePlanDto, ListPlansQueryDto, MergePlanDto, PlanMergeResultDto, PlanResponseDto, PlanSummaryDto, UpdatePlanDto } from './dto/plan.dto';
import { presentPlan, presentPlanSummary } from './plan.presenter';

@ApiTags('plans')
@KeyedApi({ role: 'viewer', forbidden: 'changes need an operator key' })
@ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: a field or parameter is wrong' })
@Controller('api/v1/plans')
export class PlansController {
  constructor(private readonly plans: PlanService) {}

  @Post()
  @RequireRole('operator')
  @ApiOperation({ summary: 'Create a plan (DRAFT): decompose the requirement, or validate the tasks given' })
  @ApiCreatedResponse({ type: PlanResponseDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'PLAN_INVALID (details.problems name the tasks), REQUIREMENT_INVALID, WORKSPACE_INVALID, VALIDATION_FAILED' })
  async create(@Body() body: CreatePlanDto, @CurrentPrincipal() principal: Principal): Promise<PlanResponseDto> {
    return presentPlan(await this.plans.create({ ...body, workspaceRoots: principal.workspaceRoots, createdByKeyId: principal.keyId }));
  }

  @Get()
  @ApiOperation({ summary: 'List plans, newest first' })
  @ApiOkResponse({ type: [PlanSummaryDto] })
  async list(@Query() query: ListPlansQueryDto): Promise<{ items: PlanSummaryDto[] }> {
    return { items: (await this.plans.list(query)).map(presentPlanSummary) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A plan with its tasks, their sessions, usage, progress, critical path and totals' })
  @ApiOkResponse({ type: PlanResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'PLAN_NOT_FOUND (unknown or deleted)' })
  async get(@IdParam() id: string): Promise<PlanResponseDto> {
    return presentPlan(await this.plans.get(id));
  }

  @Patch(':id')
  @RequireRole('operator')
  @ApiOperation({ summary: "Change a plan's budget (DRAFT, RUNNING or PAUSED), with the version you read; a PAUSED plan stays paused until POST run" })
  @ApiOkResponse({ type: PlanResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'PLAN_VERSION_CONFLICT (stale version), PLAN_INVALID_STATE (finished or cancelled), LOCK_TIMEOUT' })
  async update(@IdParam() id: string, @Body() body: UpdatePlanDto, @CurrentPrincipal() principal: Principal): Promise<PlanResponseDto> {
    await this.assertReaches(id, principal);
    return presentPlan(await this.plans.updateBudget(id, body.version, body.budget));
  }

  @Post(':id/run')
  @RequireRole('operator')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: "Run a DRAFT plan, or resume a PAUSED one (RUNNING): tasks start as their dependencies complete and their forecasts fit the budget" })
  @ApiAcceptedResponse({ type: PlanResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'PLAN_INVALID_STATE (not DRAFT or PAUSED), LOCK_TIMEOUT' })
  async run(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<PlanResponseDto> {
    await this.assertReaches(id, principal);
    return presentPlan(await this.plans.run(id));
  }

  @Post(':id/cancel')
  @RequireRole('operator')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Cancel a DRAFT, RUNNING or PAUSED plan: its running sessions are cancelled, nothing more starts' })
  @ApiAcceptedResponse({ type: PlanResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'PLAN_INVALID_STATE (already finished), LOCK_TIMEOUT' })
  async cancel(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<PlanResponseDto> {
    await this.assertReaches(id, principal);
    return presentPlan(await this.plans.cancel(id));
  }

  @Post(':id/merge')
  @RequireRole('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "Merge a COMPLETED or FAILED plan's integration branch into the workspace's branch (or target), in the repository's merge queue",
  })
  @ApiOkResponse({ type: PlanMergeResultDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'MERGE_TARGET_INVALID (no target and a detached HEAD), GIT_REF_INVALID, VALIDATION_FAILED' })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'MERGE_CONFLICT and WORKSPACE_DIRTY (details.files; nothing changed), PLAN_NOT_ISOLATED (no integration branch), PLAN_INVALID_STATE (not COMPLETED or FAILED), LOCK_TIMEOUT',
  })
  async merge(@IdParam() id: string, @Body() body: MergePlanDto, @CurrentPrincipal() principal: Principal): Promise<PlanMergeResultDto> {
    await this.assertReaches(id, principal);
    return this.plans.merge(id, body);
  }

  @Delete(':id')
  @RequireRole('operator')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Soft-delete a plan that is not RUNNING or PAUSED (kept in the database, hidden from the API)' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'PLAN_INVALID_STATE: cancel it first' })
  async remove(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.assertReaches(id, principal);
    await this.plans.delete(id);
  }

  /** A key with workspace roots acts only on plans inside them. */
  private async assertReaches(id: string, principal: Principal): Promise<void> {
    if (principal.workspaceRoots) assertPrincipalReaches(principal, (await this.plans.get(id)).plan.workspace, `Plan ${id}`);
  }
}

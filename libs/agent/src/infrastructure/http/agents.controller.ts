import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ErrorResponseDto, IdParam, KeyedApi, RequireRole } from '@app/http';
import { AgentService } from '../../application/agent.service';
import { Agent } from '../../domain/agent';
import {
  AgentPerformanceDto,
  AgentResponseDto,
  CreateAgentDto,
  ListAgentsQueryDto,
  PerformanceQueryDto,
  RouteWorkDto,
  RoutingDecisionDto,
  UpdateAgentDto,
} from './dto/agent.dto';
import { presentAgent } from './agent.presenter';

@ApiTags('agents')
@KeyedApi({ role: 'viewer', forbidden: 'creating, changing and deleting agents needs an admin key' })
@ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: a field or parameter is wrong; AGENT_INVALID: a domain rule' })
@Controller('api/v1/agents')
export class AgentsController {
  constructor(private readonly agents: AgentService) {}

  @Post()
  @RequireRole('admin')
  @ApiOperation({ summary: 'Create an agent: a role, skills with levels, and how OpenCode is driven for it' })
  @ApiCreatedResponse({ type: AgentResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'AGENT_NAME_TAKEN' })
  async create(@Body() body: CreateAgentDto): Promise<AgentResponseDto> {
    return this.present(await this.agents.create(body));
  }

  @Get()
  @ApiOperation({ summary: 'List live agents by name, optionally by role and enabled' })
  @ApiOkResponse({ type: [AgentResponseDto] })
  async list(@Query() query: ListAgentsQueryDto): Promise<AgentResponseDto[]> {
    const agents = await this.agents.list(query);
    const spent = await this.agents.spentToday(agents.map((a) => a.id));
    return agents.map((a) => presentAgent(a, spent.get(a.id)));
  }

  @Post('route')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Rank the agents for a piece of work, each score explained; the others with why they were skipped' })
  @ApiOkResponse({ type: RoutingDecisionDto })
  async route(@Body() body: RouteWorkDto): Promise<RoutingDecisionDto> {
    return this.agents.route(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an agent' })
  @ApiOkResponse({ type: AgentResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'AGENT_NOT_FOUND (unknown or deleted)' })
  async get(@IdParam() id: string): Promise<AgentResponseDto> {
    return this.present(await this.agents.get(id));
  }

  @Get(':id/performance')
  @ApiOperation({ summary: 'Performance figures over the last lastN counted runs and all time, with the tier' })
  @ApiOkResponse({ type: AgentPerformanceDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async performance(@IdParam() id: string, @Query() query: PerformanceQueryDto): Promise<AgentPerformanceDto> {
    const figures = await this.agents.performance(id, query.lastN);
    return { ...figures, thresholds: figures.thresholds.map((t) => ({ ...t })) };
  }

  @Patch(':id')
  @RequireRole('admin')
  @ApiOperation({ summary: 'Change an agent, with the version you read' })
  @ApiOkResponse({ type: AgentResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'AGENT_VERSION_CONFLICT (stale version) or AGENT_NAME_TAKEN' })
  async update(@IdParam() id: string, @Body() body: UpdateAgentDto): Promise<AgentResponseDto> {
    const { version, ...changes } = body;
    return this.present(await this.agents.update(id, version, changes));
  }

  @Delete(':id')
  @RequireRole('admin')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Soft-delete an agent (its runs stay; its name is free again)' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async remove(@IdParam() id: string): Promise<void> {
    await this.agents.delete(id);
  }

  private async present(agent: Agent): Promise<AgentResponseDto> {
    return presentAgent(agent, (await this.agents.spentToday([agent.id])).get(agent.id));
  }
}

import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  HttpStatus,
  Patch,
  Post,
  Query,
  Res,
} from '@nestjs/common';
import type { Response } from 'express';
import { assertPrincipalReaches, CurrentPrincipal, ErrorResponseDto, IdParam, KeyedApi, RequireRole } from '@app/http';
import { Principal } from '@app/shared';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiServiceUnavailableResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { AwaitingApprovals } from '../../application/awaiting-approvals';
import { SessionLifecycleService } from '../../application/session-lifecycle.service';
import { SessionWorktreeService } from '../../application/session-worktree.service';
import { SessionSseStreams } from '../events/session-sse-streams';
import {
  CreateSessionDto,
  ListSessionsQueryDto,
  SessionEventDto,
  SessionPageDto,
  SessionResponseDto,
  UpdateSessionDto,
} from './dto/session.dto';
import { SessionStreamEventDto } from './dto/session-stream.dto';
import { DiffQueryDto, FileDiffDto, MergeSessionDto } from './dto/session-worktree.dto';
import { SessionMergeResponseDto } from './dto/session-merge-response.dto';
import { presentEvent, presentSession } from './session.presenter';

@ApiTags('sessions')
@KeyedApi({ role: 'viewer', forbidden: 'changes need an operator key' })
@ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: a field or parameter is wrong' })
@ApiExtraModels(SessionStreamEventDto)
@Controller('api/v1/sessions')
export class SessionsController {
  constructor(
    private readonly lifecycle: SessionLifecycleService,
    private readonly streams: SessionSseStreams,
    private readonly awaiting: AwaitingApprovals,
    private readonly worktrees: SessionWorktreeService,
  ) {}

  @Post()
  @RequireRole('operator')
  @ApiOperation({ summary: 'Create a session (PENDING)' })
  @ApiCreatedResponse({ type: SessionResponseDto })
  async create(@Body() body: CreateSessionDto, @CurrentPrincipal() principal: Principal): Promise<SessionResponseDto> {
    const session = await this.lifecycle.create({ ...body, workspaceRoots: principal.workspaceRoots, createdByKeyId: principal.keyId });
    return presentSession(session);
  }

  @Get()
  @ApiOperation({ summary: 'List sessions, newest first, by cursor' })
  @ApiOkResponse({ type: SessionPageDto })
  async list(@Query() query: ListSessionsQueryDto): Promise<SessionPageDto> {
    const page = await this.lifecycle.list(query);
    const awaiting = await this.awaiting.of(page.items);
    return { items: page.items.map((s) => presentSession(s, awaiting.get(s.id))), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a session with its result, usage and error' })
  @ApiOkResponse({ type: SessionResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'SESSION_NOT_FOUND (unknown or deleted)' })
  async get(@IdParam() id: string): Promise<SessionResponseDto> {
    const session = await this.lifecycle.get(id);
    return presentSession(session, await this.awaiting.ofOne(session));
  }

  @Get(':id/events')
  @ApiOperation({ summary: 'The transition history of a session, oldest first' })
  @ApiOkResponse({ type: [SessionEventDto] })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  async events(@IdParam() id: string): Promise<SessionEventDto[]> {
    return (await this.lifecycle.events(id)).map(presentEvent);
  }

  @Get(':id/stream')
  @ApiOperation({
    summary: 'Live events of a session (server-sent events), from its current state to its final status',
    description:
      'First a `snapshot` event (the session as GET returns it), then transitions and the running turn\'s progress ' +
      '(text, tool, files, activity) in order; after the transition to a final status an `end` event, and the server ' +
      'closes the stream. A comment line every 15 s keeps proxies from closing it. See docs/streams.md.',
  })
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'access_token', required: false, description: 'The API key, for a browser EventSource that cannot send Authorization (kept out of the logs)' })
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: '"end" (sent by a reconnecting EventSource after the end event): 204, stop' })
  @ApiOkResponse({
    description: 'text/event-stream: `id:`, `event:` (the type) and `data:` (one JSON object) per event',
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(SessionStreamEventDto) } } },
  })
  @ApiNoContentResponse({ description: 'Last-Event-ID was "end": the client already saw the end' })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'SESSION_NOT_FOUND (JSON, before the stream starts)' })
  @ApiServiceUnavailableResponse({
    type: ErrorResponseDto,
    description:
      'EVENTS_UNAVAILABLE: Redis does not answer (retryable); TOO_MANY_STREAMS: this API process holds MAX_EVENT_STREAMS streams, or the key MAX_EVENT_STREAMS_PER_KEY (retryable, Retry-After)',
  })
  async stream(
    @IdParam() id: string,
    @Res() res: Response,
    @CurrentPrincipal() principal: Principal,
    @Headers('last-event-id') lastEventId?: string,
  ): Promise<void> {
    await this.streams.streamSession(
      id,
      async () => {
        const session = await this.lifecycle.get(id);
        return { version: session.version, status: session.status, attempt: session.attempt, body: presentSession(session, await this.awaiting.ofOne(session)) };
      },
      res,
      principal,
      lastEventId,
    );
  }

  @Post(':id/start')
  @RequireRole('operator')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Queue a PENDING session for a worker (QUEUED)' })
  @ApiAcceptedResponse({ type: SessionResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'INVALID_TRANSITION, or LOCK_TIMEOUT (retryable, Retry-After)' })
  async start(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<SessionResponseDto> {
    await this.assertReaches(id, principal);
    return presentSession(await this.lifecycle.start(id));
  }

  @Post(':id/cancel')
  @RequireRole('operator')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Cancel: at once when not running; a RUNNING session is aborted by its worker within seconds' })
  @ApiAcceptedResponse({ type: SessionResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'INVALID_TRANSITION (already final) or LOCK_TIMEOUT' })
  async cancel(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<SessionResponseDto> {
    await this.assertReaches(id, principal);
    return presentSession(await this.lifecycle.cancel(id));
  }

  @Post(':id/retry')
  @RequireRole('operator')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Run a FAILED, TIMED_OUT or CANCELLED session again as attempt + 1' })
  @ApiAcceptedResponse({ type: SessionResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'INVALID_TRANSITION or LOCK_TIMEOUT' })
  async retry(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<SessionResponseDto> {
    await this.assertReaches(id, principal);
    return presentSession(await this.lifecycle.retry(id));
  }

  @Get(':id/diff')
  @ApiOperation({ summary: "What the session's branch changed since its base commit: the unified diff, or ?format=json per file" })
  @ApiProduces('text/x-diff', 'application/json')
  @ApiOkResponse({ description: 'text/x-diff: the unified diff (empty when nothing changed); json: FileDiff[]', type: [FileDiffDto] })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'NO_WORKTREE: the session shares its workspace' })
  async diff(@IdParam() id: string, @Query() query: DiffQueryDto, @Res() res: Response): Promise<void> {
    if (query.format === 'json') {
      res.json(await this.worktrees.diffFiles(id));
      return;
    }
    const diff = await this.worktrees.diff(id); // before the content type: an error answers JSON
    res.type('text/x-diff; charset=utf-8').send(diff);
  }

  @Post(':id/merge')
  @RequireRole('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({
    summary: "Merge the session's branch into a branch of its repository (one merge per repository at a time); answers once done",
    description: 'A conflict or a dirty target work tree changes nothing. The branch is deleted after the merge.',
  })
  @ApiOkResponse({ type: SessionMergeResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({
    type: ErrorResponseDto,
    description: 'MERGE_CONFLICT (details.files), WORKSPACE_DIRTY (details.files), NO_WORKTREE, WORKTREE_GONE, SESSION_RUNNING, LOCK_TIMEOUT (retryable)',
  })
  async merge(@IdParam() id: string, @Body() body: MergeSessionDto, @CurrentPrincipal() principal: Principal): Promise<SessionMergeResponseDto> {
    await this.assertReaches(id, principal);
    const { session, ...merged } = await this.worktrees.merge(id, body);
    return { ...merged, session: presentSession(session) };
  }

  @Post(':id/discard')
  @RequireRole('operator')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: "Delete the session's branch without merging it (the session stays, its worktree state DISCARDED)" })
  @ApiOkResponse({ type: SessionResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'NO_WORKTREE, WORKTREE_GONE, SESSION_RUNNING' })
  async discard(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<SessionResponseDto> {
    await this.assertReaches(id, principal);
    return presentSession(await this.worktrees.discard(id));
  }

  @Patch(':id')
  @RequireRole('operator')
  @ApiOperation({ summary: 'Change title or metadata, with the version you read' })
  @ApiOkResponse({ type: SessionResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'VERSION_CONFLICT: the session changed since you read it' })
  async update(@IdParam() id: string, @Body() body: UpdateSessionDto, @CurrentPrincipal() principal: Principal): Promise<SessionResponseDto> {
    await this.assertReaches(id, principal);
    const { version, ...changes } = body;
    return presentSession(await this.lifecycle.edit(id, version, changes));
  }

  @Delete(':id')
  @RequireRole('operator')
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiOperation({ summary: 'Soft-delete a session (kept in the database, hidden from the API)' })
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'SESSION_RUNNING: cancel it first' })
  async remove(@IdParam() id: string, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.assertReaches(id, principal);
    await this.lifecycle.delete(id);
  }

  /** A key with workspace roots acts only on sessions inside them (a retry would run an agent there again). */
  private async assertReaches(id: string, principal: Principal): Promise<void> {
    if (principal.workspaceRoots) assertPrincipalReaches(principal, (await this.lifecycle.get(id)).workspace, `Session ${id}`);
  }
}

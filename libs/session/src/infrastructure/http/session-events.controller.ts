import { Controller, Get, Query, Res } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiServiceUnavailableResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentPrincipal, ErrorResponseDto, KeyedApi } from '@app/http';
import type { Principal } from '@app/shared';
import { SessionSseStreams } from '../events/session-sse-streams';
import { SessionStreamEventDto, StreamEventsQueryDto } from './dto/session-stream.dto';

/** The fleet view: live events of every session (or of some), as server-sent events. */
@ApiTags('sessions')
@KeyedApi({ role: 'viewer', unauthorized: 'API_KEY is set and the key (header, or ?access_token= for this GET) is missing, unknown, revoked or expired' })
@ApiExtraModels(SessionStreamEventDto)
@Controller('api/v1/events')
export class SessionEventsController {
  constructor(private readonly streams: SessionSseStreams) {}

  @Get()
  @ApiOperation({
    summary: 'Live events of all sessions (server-sent events), optionally filtered',
    description:
      "Transitions and running turns' progress of every session as they happen (no snapshot, no replay), until the " +
      'client disconnects. A comment line `: subscribed` once the subscription is live, then a comment every 15 s. ' +
      'A `gap` event says events may have been lost (the event bus reconnected). See docs/streams.md.',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'text/event-stream: `id:`, `event:` (the type) and `data:` (one JSON object) per event',
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(SessionStreamEventDto) } } },
  })
  @ApiBadRequestResponse({ type: ErrorResponseDto, description: 'VALIDATION_FAILED: a sessionId is not a UUID, or an unknown type' })
  @ApiServiceUnavailableResponse({
    type: ErrorResponseDto,
    description:
      'EVENTS_UNAVAILABLE: Redis does not answer (retryable); TOO_MANY_STREAMS: this API process holds MAX_EVENT_STREAMS streams, or the key MAX_EVENT_STREAMS_PER_KEY (retryable, Retry-After)',
  })
  async stream(@Query() query: StreamEventsQueryDto, @Res() res: Response, @CurrentPrincipal() principal: Principal): Promise<void> {
    await this.streams.streamAll({ sessionIds: query.sessionId, types: query.types }, res, principal);
  }
}

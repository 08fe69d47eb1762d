import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsString, IsUUID } from 'class-validator';
import { SESSION_EVENT_TYPES, SessionEventType } from '../../../application/ports/session-events.port';

/** `?x=a&x=b` and `?x=a,b` both give [a, b]. */
const toList = ({ value }: { value: unknown }): unknown =>
  value === undefined ? undefined : (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(',')).filter(Boolean);

export class StreamEventsQueryDto {
  @ApiPropertyOptional({
    type: [String],
    format: 'uuid',
    description: 'Only these sessions: repeat the parameter (?sessionId=a&sessionId=b) or separate ids with commas; at most 100',
  })
  @IsOptional() @Transform(toList) @IsArray() @ArrayMaxSize(100) @IsUUID(undefined, { each: true, message: 'each sessionId must be a UUID' })
  sessionId?: string[];

  @ApiPropertyOptional({
    enum: SESSION_EVENT_TYPES,
    isArray: true,
    description: 'Only these event types: repeat the parameter or separate them with commas (e.g. ?types=transition)',
  })
  @IsOptional() @Transform(toList) @IsArray() @IsIn(SESSION_EVENT_TYPES, { each: true, message: `each type must be one of ${SESSION_EVENT_TYPES.join(', ')}` })
  types?: SessionEventType[];

  /** Read by the access check before the handler runs; declared so that validation lets it through. */
  @ApiPropertyOptional({ description: 'The API key, for a browser EventSource that cannot send Authorization (kept out of the logs)' })
  @IsOptional() @IsString()
  access_token?: string;
}

const SESSION_STREAM_EVENT_TYPES = ['snapshot', ...SESSION_EVENT_TYPES, 'end', 'gap'] as const;

/**
 * One server-sent event: the SSE `event:` line is `type`, the `data:` line is this object as
 * JSON. See docs/streams.md for each type's `data`.
 */
export class SessionStreamEventDto {
  @ApiProperty({ format: 'uuid', description: 'Absent on the fleet stream\'s gap events' }) sessionId: string;

  @ApiProperty({
    enum: SESSION_STREAM_EVENT_TYPES,
    description:
      'snapshot: the session as GET returns it (session stream only, first); transition: a status change; ' +
      'text: streamed answer text (delta); tool: a tool call changed status; files: files changed so far; ' +
      'activity: busy / retry / idle on the OpenCode server; approval: an approval the run waits on opened (PENDING) or was decided; ' +
      'end: the session is final, the stream closes; ' +
      'gap: events may have been lost (fleet stream only)',
  })
  type: string;

  @ApiPropertyOptional({ description: "snapshot and transition: the session's version (increases with every write of the session)" })
  seq?: number;

  @ApiProperty({ format: 'date-time' }) at: string;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Depends on type (docs/streams.md)' })
  data: Record<string, unknown>;
}

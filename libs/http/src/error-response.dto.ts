import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/** The one error body of the API (see DomainErrorFilter), for Swagger. */
export class ErrorResponseDto {
  @ApiProperty({ example: 409 }) statusCode: number;
  @ApiProperty({ example: 'INVALID_TRANSITION' }) code: string;
  @ApiProperty({ example: 'Session … cannot go from COMPLETED to QUEUED' }) message: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true }) details?: Record<string, unknown>;
}

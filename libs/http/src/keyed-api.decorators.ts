import { applyDecorators, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Role } from '@app/shared';
import { RequireRole } from './access.decorators';
import { ErrorResponseDto } from './error-response.dto';

const DEFAULT_UNAUTHORIZED = 'API_KEY is set and the key is missing, unknown, revoked or expired';

/**
 * A controller behind the API key: the least role of its routes (when they share one), and the
 * 401 and 403 answers Swagger shows, in one place for every controller.
 */
export function KeyedApi(options: { role?: Role; unauthorized?: string; forbidden?: string } = {}): ClassDecorator & MethodDecorator {
  return applyDecorators(
    ApiBearerAuth(),
    ...(options.role ? [RequireRole(options.role)] : []),
    ApiUnauthorizedResponse({ type: ErrorResponseDto, description: `UNAUTHORIZED: ${options.unauthorized ?? DEFAULT_UNAUTHORIZED}` }),
    ...(options.forbidden ? [ApiForbiddenResponse({ type: ErrorResponseDto, description: `FORBIDDEN: ${options.forbidden}` })] : []),
  );
}

/** The `:id` path parameter, a UUID (400 otherwise). */
export const IdParam = (): ParameterDecorator => Param('id', new ParseUUIDPipe());

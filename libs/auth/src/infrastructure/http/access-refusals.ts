import { HttpStatus } from '@nestjs/common';
import { CommonErrorCode, Principal, Role } from '@app/shared';
import { AuthenticationRefusal, REFUSAL_MESSAGES } from '../../application/authentication';

/** The API's error body (see DomainErrorFilter), for refusals written before or instead of a handler. */
export interface RefusalBody {
  statusCode: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** RFC 6750: a 401 names the scheme the client should use. */
export const WWW_AUTHENTICATE = 'WWW-Authenticate';
export const BEARER_CHALLENGE = 'Bearer';

export function unauthorized(refusal: AuthenticationRefusal): RefusalBody {
  return { statusCode: HttpStatus.UNAUTHORIZED, code: CommonErrorCode.UNAUTHORIZED, message: REFUSAL_MESSAGES[refusal] };
}

export function forbidden(requiredRole: Role, principal: Principal): RefusalBody {
  return {
    statusCode: HttpStatus.FORBIDDEN,
    code: CommonErrorCode.FORBIDDEN,
    message: `This needs the ${requiredRole} role; the key "${principal.name}" is ${principal.role}`,
    details: { requiredRole, role: principal.role },
  };
}

/** A route nobody declared an access rule for is closed until someone does (see RequireRole, Public). */
export function undeclared(route: string): RefusalBody {
  return {
    statusCode: HttpStatus.FORBIDDEN,
    code: CommonErrorCode.FORBIDDEN,
    message: `${route} declares no access rule (@RequireRole or @Public), so it is closed`,
  };
}

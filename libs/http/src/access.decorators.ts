import { createParamDecorator, ExecutionContext, SetMetadata, UnauthorizedException } from '@nestjs/common';
import { CommonErrorCode, Principal, Role } from '@app/shared';

/** Metadata key of the role a route needs (see RequireRole). */
export const REQUIRED_ROLE = 'access:requiredRole';
/** Metadata key of a route anyone may call without a key (see Public). */
export const PUBLIC_ROUTE = 'access:public';

/**
 * The least role a route (or every route of a controller) needs. The guard refuses a route that
 * declares neither a role nor Public: a new route is closed until someone decides.
 */
export const RequireRole = (role: Role) => SetMetadata(REQUIRED_ROLE, role);

/** A route that needs no key (health probes, metrics). Keep the list short: it is the README's. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/**
 * The request's caller, as the guard put it on the request (the anonymous admin when API_KEY is
 * unset). Fails closed: a handler that asks for a caller the guard never established (a @Public()
 * route) gets 401, never an admin by default.
 */
export const CurrentPrincipal = createParamDecorator((_data: unknown, context: ExecutionContext): Principal => {
  const request = context.switchToHttp().getRequest<{ principal?: Principal }>();
  if (!request.principal) {
    throw new UnauthorizedException({ code: CommonErrorCode.UNAUTHORIZED, message: 'This needs an API key: send Authorization: Bearer <key>' });
  }
  return request.principal;
});

import { CanActivate, ExecutionContext, HttpException, Injectable, Logger } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { PUBLIC_ROUTE, REQUIRED_ROLE } from '@app/http';
import { Role, roleAtLeast } from '@app/shared';
import { BEARER_CHALLENGE, forbidden, RefusalBody, unauthorized, undeclared, WWW_AUTHENTICATE } from './access-refusals';
import { RequestAuthenticator } from './request-authenticator';

type RouteAccess = { public: true } | { role: Role };

/** A handler's own declaration wins over its controller's; a role wins over Public on the same level. */
function routeAccess(reflector: Reflector, handler: object, controller: object): RouteAccess | null {
  for (const target of [handler, controller]) {
    const role = reflector.get<Role | undefined>(REQUIRED_ROLE, target as never);
    if (role) return { role };
    if (reflector.get<boolean | undefined>(PUBLIC_ROUTE, target as never)) return { public: true };
  }
  return null;
}

/**
 * The global guard (APP_GUARD): it runs for the handler Express matched, so it decides on the
 * route itself, however its path was spelt. Deny by default: a route that declares neither
 * @Public() nor @RequireRole() is refused.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly logger = new Logger('Access');

  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: RequestAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = `${context.getClass().name}.${context.getHandler().name}`;
    const access = context.getType() === 'http' ? routeAccess(this.reflector, context.getHandler(), context.getClass()) : null;
    if (!access) {
      this.logger.error(`${route} declares no access rule: every request to it is refused`);
      throw refusal(undeclared(route));
    }
    if ('public' in access) return true;
    const http = context.switchToHttp();
    const authentication = await this.authenticator.authenticate(http.getRequest<Request>());
    if ('refused' in authentication) {
      http.getResponse<Response>().setHeader(WWW_AUTHENTICATE, BEARER_CHALLENGE);
      throw refusal(unauthorized(authentication.refused));
    }
    if (!roleAtLeast(authentication.principal.role, access.role)) throw refusal(forbidden(access.role, authentication.principal));
    return true;
  }
}

function refusal({ statusCode, ...body }: RefusalBody): HttpException {
  return new HttpException(body, statusCode);
}

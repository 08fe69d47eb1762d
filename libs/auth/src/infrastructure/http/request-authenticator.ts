import { Injectable } from '@nestjs/common';
import type { Request } from 'express';
import type { Principal } from '@app/shared';
import { ApiKeyService } from '../../application/api-key.service';
import { Authentication } from '../../application/authentication';
import { acceptsQueryToken, parseRequestPath } from '../../domain/request-path';

const PENDING = Symbol('authentication');
const SETTLED = Symbol('authenticated');

type AuthenticatedRequest = Request & {
  principal?: Principal;
  [PENDING]?: Promise<Authentication>;
  [SETTLED]?: Authentication;
};

/**
 * Who sent a request, decided once per request (the middleware and the guard share the answer).
 * A granted request carries `req.principal`, which @CurrentPrincipal() reads.
 */
@Injectable()
export class RequestAuthenticator {
  constructor(private readonly keys: ApiKeyService) {}

  authenticate(req: Request): Promise<Authentication> {
    const r = req as AuthenticatedRequest;
    r[PENDING] ??= this.keys.authenticate(credentialOf(req)).then((authentication) => {
      r[SETTLED] = authentication;
      if ('principal' in authentication) r.principal = authentication.principal;
      return authentication;
    });
    return r[PENDING];
  }

  /** What authenticate() found for this request, if it ran and finished (for the audit line). */
  static settled(req: Request): Authentication | undefined {
    return (req as AuthenticatedRequest)[SETTLED];
  }
}

/** `Authorization: Bearer <key>`; for a GET of an event stream also `?access_token=<key>`. */
function credentialOf(req: Request): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) return /^Bearer +(\S+) *$/i.exec(header)?.[1] ?? null;
  if (!acceptsQueryToken(req.method, parseRequestPath(req.originalUrl ?? req.url))) return null;
  const token: unknown = req.query?.access_token;
  return typeof token === 'string' && token !== '' ? token : null;
}

import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ROOT_LOGGER, routeOf } from '@app/observability';
import { OutageClassifier } from '@app/platform';
import { CommonErrorCode, errorMessage, roleAtLeast, ServiceUnavailableError } from '@app/shared';
import type { Logger as Pino } from 'pino';
import { isJobDashboardPath, isMutatingMethod, isPublicPath, jobDashboardRole, parseRequestPath } from '../../domain/request-path';
import { BEARER_CHALLENGE, forbidden, RefusalBody, unauthorized, WWW_AUTHENTICATE } from './access-refusals';
import { RequestAuthenticator } from './request-authenticator';

/**
 * The access check Express runs before any route, for what Nest's guard never sees: Bull Board
 * (/queues: GET for every role, any other method admin only), Swagger's files, and paths no
 * route serves. Everything but the public paths needs a valid key here; the global AccessGuard
 * then checks the role each Nest route declares. Paths are judged normalised (see RequestPath).
 *
 * Every mutating request (POST, PUT, PATCH, DELETE), refused or not, writes one `audit` line:
 * who (key id, name, role), what (method, route pattern, path), the status and the correlation id.
 * Audit lines are written at info whatever LOG_LEVEL says (silent only when the logger is).
 */
@Injectable()
export class HttpAccessMiddleware {
  private readonly logger = new Logger('Access');
  private readonly audit: Pino;

  constructor(
    private readonly authenticator: RequestAuthenticator,
    @Inject(ROOT_LOGGER) root: Pino,
    /** Tells a key lookup that failed because PostgreSQL is out of reach (503) from a bug (500). */
    @Optional() @Inject(OutageClassifier) private readonly outages?: OutageClassifier,
  ) {
    this.audit = root.level === 'silent' ? root : root.child({}, { level: 'info' });
  }

  readonly handle = (req: Request, res: Response, next: NextFunction): void => {
    const path = parseRequestPath(req.originalUrl ?? req.url);
    if (isMutatingMethod(req.method)) res.once('close', () => this.writeAudit(req, res, path.normalised));
    const dashboard = isJobDashboardPath(path);
    if (!dashboard && isPublicPath(path)) return next();
    this.authenticator.authenticate(req).then(
      (authentication) => {
        if ('refused' in authentication) {
          res.setHeader(WWW_AUTHENTICATE, BEARER_CHALLENGE);
          return refuse(res, unauthorized(authentication.refused));
        }
        const needed = dashboard ? jobDashboardRole(req.method) : null;
        if (needed && !roleAtLeast(authentication.principal.role, needed)) return refuse(res, forbidden(needed, authentication.principal));
        next();
      },
      (err: Error) => {
        const outage = this.outages?.outageOf(err);
        if (outage) {
          const unavailable = new ServiceUnavailableError(outage);
          this.logger.warn(`${unavailable.code}: could not check the API key of ${req.method} ${req.originalUrl}: ${errorMessage(err)}`);
          res.setHeader('Retry-After', String(unavailable.retryAfterSeconds));
          return refuse(res, { statusCode: 503, code: unavailable.code, message: unavailable.message, details: { retryable: true } });
        }
        this.logger.error(`Could not check the API key: ${err.stack ?? err.message}`);
        refuse(res, { statusCode: 500, code: CommonErrorCode.INTERNAL, message: 'Internal error; see the server log' });
      },
    );
  };

  private writeAudit(req: Request, res: Response, normalisedPath: string): void {
    const authentication = RequestAuthenticator.settled(req);
    const who =
      authentication && 'principal' in authentication
        ? { keyId: authentication.principal.keyId, keyName: authentication.principal.name, role: authentication.principal.role }
        : { keyId: authentication?.keyId ?? null, keyName: authentication?.name ?? null, role: null, refused: authentication?.refused ?? null };
    this.audit.info(
      {
        ...who,
        method: req.method,
        route: routeOf(req),
        path: normalisedPath,
        status: res.statusCode,
        ...(!res.writableFinished && { aborted: true }),
        correlationId: (req as Request & { id?: string }).id,
      },
      'audit',
    );
  }
}

function refuse(res: Response, body: RefusalBody): void {
  res.status(body.statusCode).json(body);
}

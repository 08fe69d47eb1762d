import { performance } from 'node:perf_hooks';
import type { NextFunction, Request, Response } from 'express';
import { CORRELATION_HEADER, correlationIdFrom, runWithLogContext } from '@app/observability';
import type { Level, Logger as Pino } from 'pino';

/** Probes and scrapes are not worth a log line each. */
const QUIET = /^\/(metrics|health)(\/|$)/;

/**
 * Gives every request a correlation id (the client's `x-request-id` when it sent a sane one,
 * else a new one), echoes it in the response header, writes one `request completed` line when
 * it ends (4xx at warn, 5xx at error; method and URL only, never headers: Authorization carries
 * the API key), and runs the rest of the request in a log context: every line logged while
 * serving it carries `correlationId`, and a run it queues takes the id along in its job.
 *
 * Written here rather than with pino-http: that one builds a child logger and serializers for
 * every request even when its line is below the level, which cost a fifth of the API's read
 * throughput (`npm run bench:api`); this one does the work only for a line that is written.
 */
export function requestContextMiddleware(root: Pino) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = correlationIdFrom(req.headers[CORRELATION_HEADER]);
    (req as Request & { id?: string }).id = id;
    res.setHeader(CORRELATION_HEADER, id);
    if (!QUIET.test(req.url)) {
      const started = performance.now();
      res.once('finish', () => {
        const level: Level = res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info';
        if (!root.isLevelEnabled(level)) return;
        root[level](
          {
            correlationId: id,
            req: { method: req.method, url: redactToken(req.originalUrl ?? req.url) },
            res: { statusCode: res.statusCode },
            responseTime: Math.round(performance.now() - started),
          },
          'request completed',
        );
      });
    }
    runWithLogContext({ correlationId: id }, next);
  };
}

/** An event stream's `?access_token=` (see the API-key middleware) never reaches the logs. */
export function redactToken(url: string): string {
  return url.replace(/([?&]access_token=)[^&#]*/gi, '$1[redacted]');
}

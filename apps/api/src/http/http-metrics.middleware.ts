import type { NextFunction, Request, Response } from 'express';
import { Metrics } from '@app/observability';

/** The label of a request no route matched (404s, refusals before routing, static files). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route pattern a request matched, e.g. /api/v1/sessions/:id: never a raw id, so the
 * label's values stay bounded.
 */
export function routeOf(req: Request): string {
  const pattern: unknown = req.route?.path;
  return typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : UNMATCHED_ROUTE;
}

/**
 * orchestrator_http_request_duration_seconds: every response by method, route pattern and status,
 * whoever produced it (a controller, the error filter, the API-key check). Event streams are
 * left out: their "duration" is how long a client watched.
 */
export function httpMetricsMiddleware(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequest(req.method, routeOf(req), res.statusCode, seconds);
    });
    next();
  };
}

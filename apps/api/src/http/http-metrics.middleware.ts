import type { NextFunction, Request, Response } from 'express';
import { Metrics, routeOf } from '@app/observability';

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

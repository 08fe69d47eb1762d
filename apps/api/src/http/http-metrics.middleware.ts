import type { NextFunction, Request, Response } from 'express';
import { Metrics, routeOf } from '@app/observability';

/**
 * orchestrator_http_request_duration_seconds: every response by method, route pattern and status,
 * whoever produced it (a controller, the error filter, the API-key check). Event streams are
 * left out: their "duration" is how long a client watched. The API's own adapter into Metrics,
 * as each context has one for its metrics.
 */
export function httpMetricsMiddleware(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequestDuration.labels(req.method.toUpperCase(), routeOf(req), String(res.statusCode)).observe(seconds);
    });
    next();
  };
}

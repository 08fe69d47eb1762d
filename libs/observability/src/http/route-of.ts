import type { Request } from 'express';

/** The label of a request no route matched (404s, refusals before routing, static files). */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route pattern a request matched, e.g. /api/v1/sessions/:id: never a raw id, so metric
 * labels and audit lines stay bounded and comparable.
 */
export function routeOf(req: Request): string {
  const pattern: unknown = req.route?.path;
  return typeof pattern === 'string' ? `${req.baseUrl}${pattern}` : UNMATCHED_ROUTE;
}

import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { CommonErrorCode } from '@app/shared';

/** Paths that need the key when API_KEY is set; health probes, docs and /metrics stay open. */
const PROTECTED = /^\/(api|queues)(\/|$)/;
/**
 * The event streams, which a browser's EventSource opens without any header it could add: for
 * a GET of these the key may also come as `?access_token=` (RFC 6750's query form). The request
 * log redacts it.
 */
const STREAMS = /^\/api\/v1\/(events|sessions\/[^/]+\/stream)\/?$/;

export function apiKeyMiddleware(apiKey: string | undefined) {
  const expected = apiKey ? Buffer.from(`Bearer ${apiKey}`) : null;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!expected || !PROTECTED.test(req.path)) return next();
    const token = req.method === 'GET' && STREAMS.test(req.path) ? req.query.access_token : undefined;
    const given = Buffer.from(req.headers.authorization ?? (typeof token === 'string' ? `Bearer ${token}` : ''));
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    res.status(401).setHeader('WWW-Authenticate', 'Bearer').json({
      statusCode: 401,
      code: CommonErrorCode.UNAUTHORIZED,
      message: 'Missing or wrong bearer token: send Authorization: Bearer <API_KEY>',
    });
  };
}

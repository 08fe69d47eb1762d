import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { CommonErrorCode } from '@app/shared';

/** Paths that need the key when API_KEY is set; health probes, docs and /metrics stay open. */
const PROTECTED = /^\/(api|queues)(\/|$)/;

export function apiKeyMiddleware(apiKey: string | undefined) {
  const expected = apiKey ? Buffer.from(`Bearer ${apiKey}`) : null;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (!expected || !PROTECTED.test(req.path)) return next();
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return next();
    res.status(401).setHeader('WWW-Authenticate', 'Bearer').json({
      statusCode: 401,
      code: CommonErrorCode.UNAUTHORIZED,
      message: 'Missing or wrong bearer token: send Authorization: Bearer <API_KEY>',
    });
  };
}

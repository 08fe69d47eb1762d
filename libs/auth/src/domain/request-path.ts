import { Role } from '@app/shared';

/**
 * A request's path as the access rules read it. Express routes case-insensitively, ignores a
 * trailing slash, and routes an absolute-form target (`GET http://host/api/...`) by its path;
 * the rules therefore never look at the raw string.
 */
export interface RequestPath {
  /**
   * Percent-decoded segment by segment, dot segments resolved, empty segments (doubled or trailing
   * slashes) dropped, lower-cased. A decoded `/` inside a segment stays part of it (as `%2f`):
   * Express does not split on it either.
   */
  normalised: string;
  /** The same, with dot segments kept as they are (Express mounts by prefix before any `..`). */
  literal: string;
  /** A `.` or `..` segment, plain or percent-encoded: such a path is never public. */
  hasDotSegments: boolean;
}

/** The path part of a request target, as Express takes it (absolute-form included). */
export function pathnameOf(url: string): string {
  let rest = url;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(rest);
  if (absolute) rest = rest.slice(absolute[0].length);
  const end = rest.search(/[?#]/);
  const path = end === -1 ? rest : rest.slice(0, end);
  return path.startsWith('/') ? path : `/${path}`;
}

export function parseRequestPath(url: string): RequestPath {
  const resolved: string[] = [];
  const literal: string[] = [];
  let hasDotSegments = false;
  for (const raw of pathnameOf(url).split('/')) {
    const segment = decodeSegment(raw).toLowerCase().replace(/\//g, '%2f');
    if (segment === '') continue;
    literal.push(segment);
    if (segment === '.' || segment === '..') {
      hasDotSegments = true;
      if (segment === '..') resolved.pop();
      continue;
    }
    resolved.push(segment);
  }
  return { normalised: `/${resolved.join('/')}`, literal: `/${literal.join('/')}`, hasDotSegments };
}

/** Paths anyone may call without a key. Keep the list short: it is the README's. */
export const PUBLIC_PATHS: readonly string[] = ['/health/live', '/health/ready', '/docs', '/docs-json', '/metrics'];
/** Swagger UI's own files (scripts, styles) under /docs. */
const PUBLIC_PREFIXES: readonly string[] = ['/docs/'];

export function isPublicPath(path: RequestPath): boolean {
  if (path.hasDotSegments) return false;
  return PUBLIC_PATHS.includes(path.normalised) || PUBLIC_PREFIXES.some((prefix) => path.normalised.startsWith(prefix));
}

/** Bull Board's mount. */
const JOB_DASHBOARD_PATH = '/queues';

/** Under /queues however it is spelt, or however Express would mount it (before any `..`). */
export function isJobDashboardPath(path: RequestPath): boolean {
  const under = (p: string) => p === JOB_DASHBOARD_PATH || p.startsWith(`${JOB_DASHBOARD_PATH}/`);
  return under(path.normalised) || under(path.literal);
}

const READ_METHODS = ['GET', 'HEAD'];

/** The job dashboard: looking is for every role; its actions (pause, clean, retry, add...) are admin's. */
export function jobDashboardRole(method: string): Role {
  return READ_METHODS.includes(method.toUpperCase()) ? 'viewer' : 'admin';
}

/** A change: audit-logged whatever its outcome. */
export function isMutatingMethod(method: string): boolean {
  return ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method.toUpperCase());
}

const EVENT_STREAM = /^\/api\/v1\/(events|sessions\/[^/]+\/stream)$/;

/**
 * The two event streams, which a browser's EventSource opens without any header it could set:
 * for a GET of these the key may also come as `?access_token=` (RFC 6750's query form).
 */
export function acceptsQueryToken(method: string, path: RequestPath): boolean {
  return method.toUpperCase() === 'GET' && !path.hasDotSegments && EVENT_STREAM.test(path.normalised);
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw; // malformed escapes: Express does not decode them either
  }
}

import { AxiosError, isAxiosError } from 'axios';
import { errorMessage } from '@app/shared';

/** Transport-level codes, used when OpenCode gave no answer of its own. */
const OpencodeTransportCode = {
  UNREACHABLE: 'UNREACHABLE',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'CANCELLED',
} as const;

/**
 * Any failure talking to OpenCode, normalised. `code` is OpenCode's error name
 * (NotFoundError, BadRequest, UnknownError, ...) or a transport code.
 */
export class OpencodeError extends Error {
  constructor(
    message: string,
    readonly code: string,
    /** HTTP status; undefined when no answer came back. */
    readonly status?: number,
    readonly details?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OpencodeError';
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }

  /** The server did not answer (down, restarting, overloaded): worth trying again later. */
  get isUnavailable(): boolean {
    return this.status === undefined || this.status === 502 || this.status === 503 || this.status === 504;
  }

  get isUnauthorized(): boolean {
    return this.status === 401 || this.status === 403;
  }

  static from(err: unknown, what: string): OpencodeError {
    if (err instanceof OpencodeError) return err;
    if (!isAxiosError(err)) {
      return new OpencodeError(`${what}: ${errorMessage(err)}`, 'CLIENT_ERROR', undefined, undefined, { cause: err });
    }
    return fromAxiosError(err, what);
  }
}

function fromAxiosError(err: AxiosError, what: string): OpencodeError {
  const response = err.response;
  if (!response) {
    const code =
      err.code === 'ERR_CANCELED'
        ? OpencodeTransportCode.CANCELLED
        : err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT'
          ? OpencodeTransportCode.TIMEOUT
          : OpencodeTransportCode.UNREACHABLE;
    return new OpencodeError(`${what}: ${err.message || err.code || 'no answer'}`, code, undefined, undefined, { cause: err });
  }
  const { name, message } = describeErrorBody(response.data);
  const fallback = response.status === 401 ? 'unauthorized (check the OpenCode password)' : `HTTP ${response.status}`;
  return new OpencodeError(
    `${what}: ${message ?? fallback}`,
    name ?? `HTTP_${response.status}`,
    response.status,
    response.data,
    { cause: err },
  );
}

/**
 * OpenCode answers errors as `{"name","data":{"message"}}` (most routes) or
 * `{"_tag","message"}` (Effect-based routes); plain text is possible too.
 */
export function describeErrorBody(body: unknown): { name?: string; message?: string } {
  if (typeof body === 'string') {
    const trimmed = body.trim();
    if (!trimmed) return {};
    try {
      return describeErrorBody(JSON.parse(trimmed));
    } catch {
      return { message: trimmed.slice(0, 500) };
    }
  }
  if (!body || typeof body !== 'object') return {};
  const record = body as Record<string, unknown>;
  const data = record.data as Record<string, unknown> | undefined;
  const name = pickString(record.name) ?? pickString(record._tag) ?? pickString(record.code);
  const message =
    pickString(data?.message) ??
    pickString(record.message) ??
    pickString((record.error as Record<string, unknown> | undefined)?.message) ??
    pickString(record.error);
  return { name, message };
}

function pickString(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

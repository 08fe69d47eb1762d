import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * What every log line written during one unit of work carries: the correlation id of the HTTP
 * request that caused it (or of the run job it travelled in), and the session a worker runs.
 */
interface LogContext {
  correlationId: string;
  sessionId?: string;
}

/** The header a client may send its own correlation id in; every response echoes the id used. */
export const CORRELATION_HEADER = 'x-request-id';

const storage = new AsyncLocalStorage<LogContext>();
/** Letters, digits and . _ : - only, so an id is safe in a log line and a header: up to 128. */
const VALID_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Runs `work` (and everything it starts) with `context` on its log lines. */
export function runWithLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run(context, work);
}

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

export function currentCorrelationId(): string | undefined {
  return storage.getStore()?.correlationId;
}

/** The id a client sent, when it is a sane one; otherwise a new one. */
export function correlationIdFrom(header: string | string[] | undefined): string {
  const given = Array.isArray(header) ? header[0] : header;
  return given && VALID_ID.test(given) ? given : randomUUID();
}

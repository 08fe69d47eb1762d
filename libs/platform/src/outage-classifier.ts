import { Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import type { Outage } from '@app/shared';

/** Where PostgreSQL and Redis listen: a refused or timed-out socket is told apart by its port. */
export interface OutagePorts {
  database?: number;
  redis?: number;
}

/** Socket errors of a connection that could not be made or was lost (not of a request that was wrong). */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/**
 * SQLSTATEs of a server that cannot take a connection or drops it: class 08 (connection
 * exception), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up,
 * shutting down, in recovery), 53300 too many connections. Not 57014 (a statement timeout or
 * cancel: the query, not the server) nor any other class: those are the request's own errors.
 */
function isOutageSqlState(code: string): boolean {
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '53300'].includes(code);
}

/** node-postgres and pg-pool's own errors of a connection that failed, timed out or died. */
const DATABASE_CONNECTION_MESSAGES = [
  /^Connection terminated\b/, // unexpectedly, due to connection timeout, or plainly
  /^timeout exceeded when trying to connect$/, // pool connectionTimeoutMillis
  /^timeout expired$/, // client connect timeout
  /^Query read timeout$/, // query_timeout: no answer at all on the connection
  /^Client has encountered a connection error and is not queryable$/,
  // TypeORM releases a transaction's query runner when its connection emits an error (the server
  // terminated it): its next query throws QueryRunnerProviderAlreadyReleasedError (through the
  // transaction's EntityManager) or QueryRunnerAlreadyReleasedError (on the runner itself).
  /^Database connection provided by a query runner was already released\b/,
  /^Query runner already released\. Cannot run queries anymore\.$/,
];

/** ioredis's (and so BullMQ's) errors of a command that Redis could not be asked. */
const REDIS_CONNECTION_MESSAGES = [
  /^Connection is closed\.?$/,
  /enableOfflineQueue options is false/,
  /^Reached the max retries per request limit/,
  /^Redis connection lost and command aborted/,
];

interface ErrorShape {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  severity?: unknown;
  port?: unknown;
  isAxiosError?: unknown;
  driverError?: unknown;
  errors?: unknown;
  cause?: unknown;
}

/**
 * Which shared service an error says is out of reach, from the error's shape alone (codes, names
 * and messages of node-postgres, TypeORM, ioredis and BullMQ): 'database', 'redis', or null for
 * any other error (a bad query, a constraint, one slow statement, another server's socket).
 */
export function outageOf(err: unknown, ports: OutagePorts = {}): Outage | null {
  return classify(err, ports, 0);
}

function classify(err: unknown, ports: OutagePorts, depth: number): Outage | null {
  if (typeof err !== 'object' || err === null || depth > 3) return null;
  const e = err as ErrorShape;
  if (e.isAxiosError === true) return null; // an HTTP client's socket (OpenCode), whatever its code
  const message = typeof e.message === 'string' ? e.message : '';
  // TypeORM's QueryFailedError carries what node-postgres threw during the query.
  if (e.driverError !== undefined) return classify(e.driverError, ports, depth + 1) === 'database' || isSocketError(e.driverError) ? 'database' : null;
  if (e.name === 'MaxRetriesPerRequestError' || REDIS_CONNECTION_MESSAGES.some((m) => m.test(message))) return 'redis';
  // node-postgres's DatabaseError: the server's own answer, with a SQLSTATE.
  if (typeof e.severity === 'string' && typeof e.code === 'string') return isOutageSqlState(e.code) ? 'database' : null;
  if (DATABASE_CONNECTION_MESSAGES.some((m) => m.test(message))) return 'database';
  if (isSocketError(e) && typeof e.port === 'number') {
    if (e.port === ports.database) return 'database';
    if (e.port === ports.redis) return 'redis';
  }
  // Node's connect to a name with several addresses fails with an AggregateError of each attempt.
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const outage = classify(inner, ports, depth + 1);
      if (outage) return outage;
    }
  }
  return e.cause !== undefined ? classify(e.cause, ports, depth + 1) : null;
}

function isSocketError(err: unknown): boolean {
  const code = (err as ErrorShape | null)?.code;
  return typeof code === 'string' && SOCKET_CODES.has(code);
}

/** outageOf with this process's PostgreSQL and Redis ports: what the HTTP edge and the worker ask. */
@Injectable()
export class OutageClassifier {
  private readonly ports: OutagePorts;

  constructor(config: AppConfig) {
    this.ports = { database: config.database.port, redis: config.redis.port };
  }

  outageOf(err: unknown): Outage | null {
    return outageOf(err, this.ports);
  }
}

import { ArgumentsHost, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { LockError } from '@app/locking';
import { OutageClassifier } from '@app/platform';
import { DatabaseError } from 'pg';
import { QueryFailedError } from 'typeorm';
import { DomainErrorFilter, ErrorBody } from './domain-error.filter';

const config = AppConfig.with({});

/** What the filter answers for `exception`: status, headers and body. */
function answer(exception: unknown) {
  const sent: { status?: number; headers: Record<string, string>; body?: ErrorBody } = { headers: {} };
  const response = {
    setHeader: (name: string, value: string) => (sent.headers[name.toLowerCase()] = value),
    status(code: number) {
      sent.status = code;
      return this;
    },
    json: (body: ErrorBody) => (sent.body = body),
  };
  const host = { switchToHttp: () => ({ getResponse: () => response, getRequest: () => ({ method: 'GET', originalUrl: '/api/v1/sessions' }) }) };
  new DomainErrorFilter(new OutageClassifier(config)).catch(exception, host as unknown as ArgumentsHost);
  return sent;
}

function serverError(code: string, message: string): DatabaseError {
  return Object.assign(new DatabaseError(message, message.length, 'error'), { severity: 'FATAL', code });
}

describe('DomainErrorFilter on outages', () => {
  beforeAll(() => Logger.overrideLogger(false));

  it('answers 503 DATABASE_UNAVAILABLE with Retry-After when PostgreSQL is out of reach', () => {
    const refused = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${config.database.port}`), { code: 'ECONNREFUSED', port: config.database.port });
    for (const err of [refused, new QueryFailedError('SELECT 1', [], serverError('57P01', 'terminating connection due to administrator command'))]) {
      const sent = answer(err);
      expect(sent.status).toBe(503);
      expect(sent.body).toMatchObject({ statusCode: 503, code: 'DATABASE_UNAVAILABLE', details: { retryable: true } });
      expect(sent.body!.message).not.toContain('ECONNREFUSED'); // no internals
      expect(Number(sent.headers['retry-after'])).toBeGreaterThan(0);
    }
  });

  it('answers 503 REDIS_UNAVAILABLE when Redis is out of reach, the lock store included', () => {
    const closed = answer(new Error('Connection is closed.'));
    expect(closed).toMatchObject({ status: 503, body: { code: 'REDIS_UNAVAILABLE' } });
    expect(Number(closed.headers['retry-after'])).toBeGreaterThan(0);
    const lock = answer(LockError.unavailable('session:1', 'timeout'));
    expect(lock).toMatchObject({ status: 503, body: { code: 'REDIS_UNAVAILABLE', details: { reason: 'LOCK_UNAVAILABLE', resource: 'session:1', retryable: true } } });
  });

  it('leaves a query error a 500 INTERNAL, and a domain error its own status', () => {
    const syntax = answer(new QueryFailedError('SELEC 1', [], serverError('42601', 'syntax error at or near "SELEC"')));
    expect(syntax).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    expect(syntax.headers['retry-after']).toBeUndefined();
    expect(answer(LockError.timeout('session:1', 100))).toMatchObject({ status: 409, body: { code: 'LOCK_TIMEOUT' } });
  });
});

import { AxiosError } from 'axios';
import { DatabaseError } from 'pg';
import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { outageOf } from './outage-classifier';

const ports = { database: 5432, redis: 6379 };

/** What node-postgres makes of the server's ErrorResponse: a DatabaseError with severity and SQLSTATE. */
function serverError(code: string, message: string): DatabaseError {
  const err = new DatabaseError(message, message.length, 'error');
  err.severity = 'FATAL';
  err.code = code;
  return err;
}

/** A socket error as Node reports a failed connect. */
function socketError(code: string, port?: number): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:${port}`), { code, errno: -111, syscall: 'connect', address: '127.0.0.1', ...(port && { port }) });
}

const inQuery = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('outageOf', () => {
  it.each([
    ['08006 connection failure', serverError('08006', 'connection failure')],
    ['08001 cannot establish', serverError('08001', 'could not establish connection')],
    ['57P01 admin shutdown', serverError('57P01', 'terminating connection due to administrator command')],
    ['57P02 crash shutdown', serverError('57P02', 'terminating connection because of crash of another server process')],
    ['57P03 cannot connect now', serverError('57P03', 'the database system is starting up')],
    ['53300 too many connections', serverError('53300', 'sorry, too many clients already')],
    ['57P01 inside a QueryFailedError', inQuery(serverError('57P01', 'terminating connection due to administrator command'))],
    ['a lost connection inside a QueryFailedError', inQuery(new Error('Connection terminated unexpectedly'))],
    ["a transaction's query runner TypeORM released when its connection died", new QueryRunnerAlreadyReleasedError()],
    ["a query through the EntityManager of a transaction whose runner TypeORM released", new QueryRunnerProviderAlreadyReleasedError()],
    ['a reset socket inside a QueryFailedError', inQuery(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', syscall: 'read' }))],
    ['a lost connection', new Error('Connection terminated unexpectedly')],
    ['a connect timeout', new Error('Connection terminated due to connection timeout')],
    ['a pool timeout', new Error('timeout exceeded when trying to connect')],
    ['a query without any answer', new Error('Query read timeout')],
    ['a refused connect to the database port', socketError('ECONNREFUSED', 5432)],
    ['a timed-out connect to the database port', socketError('ETIMEDOUT', 5432)],
    ['an AggregateError of refused connects', Object.assign(new AggregateError([socketError('ECONNREFUSED', 5432)], 'connect failed'), { code: 'ECONNREFUSED' })],
    ['a wrapped outage', new Error('could not load the session', { cause: new Error('Connection terminated unexpectedly') })],
  ])('says the database is out of reach: %s', (_, err) => {
    expect(outageOf(err, ports)).toBe('database');
  });

  it.each([
    ['MaxRetriesPerRequestError', Object.assign(new Error('Reached the max retries per request limit (which is 1). Refer to "maxRetriesPerRequest" option for details.'), { name: 'MaxRetriesPerRequestError' })],
    ['a closed connection', new Error('Connection is closed.')],
    ['no offline queue', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    ['a refused connect to the Redis port', socketError('ECONNREFUSED', 6379)],
  ])('says Redis is out of reach: %s', (_, err) => {
    expect(outageOf(err, ports)).toBe('redis');
  });

  it.each([
    ['a syntax error', inQuery(serverError('42601', 'syntax error at or near "SELEC"'))],
    ['a unique violation', inQuery(serverError('23505', 'duplicate key value violates unique constraint'))],
    ['a statement timeout', inQuery(serverError('57014', 'canceling statement due to statement timeout'))],
    ['a serialization failure', serverError('40001', 'could not serialize access')],
    ['a refused connect to another port (OpenCode)', socketError('ECONNREFUSED', 4096)],
    ['a refused connect without a port', socketError('ECONNREFUSED')],
    ['an HTTP client error on the database port', new AxiosError('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a plain error', new Error('something else')],
    ['a file error', Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', syscall: 'open' })],
    ['a string', 'Connection terminated unexpectedly'],
    ['nothing', undefined],
  ])('leaves other errors alone: %s', (_, err) => {
    expect(outageOf(err, ports)).toBeNull();
  });

  it('attributes a socket error by port only when it knows the ports', () => {
    expect(outageOf(socketError('ECONNREFUSED', 5432))).toBeNull();
  });
});

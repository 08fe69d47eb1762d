import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { correlationIdFrom, runWithLogContext } from './log-context';
import { createNestLogger, createRootLogger, logFormatFor } from './root-logger';

/** A destination that keeps the text written to it. */
function text() {
  let written = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written += chunk.toString();
      done();
    },
  });
  return { stream, lines: () => written.split('\n').filter(Boolean) };
}

/** A destination that keeps the JSON lines written to it. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, stream };
}

describe('the root logger', () => {
  it('writes JSON lines with level names and ISO time, at LOG_LEVEL (Nest names)', () => {
    const { lines, stream } = capture();
    const logger = createRootLogger({ level: 'log', destination: stream });
    logger.debug('hidden');
    logger.info('shown');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'shown' });
    expect(String(lines[0].time)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(createRootLogger({ level: 'verbose', destination: stream }).level).toBe('trace');
    expect(createRootLogger({ level: 'silent', destination: stream }).level).toBe('silent');
  });

  it('adds the log context to every line written inside it, also after awaits, and never keeps it', async () => {
    const { lines, stream } = capture();
    const logger = createRootLogger({ level: 'log', destination: stream });
    await runWithLogContext({ correlationId: 'req-1', sessionId: 's-1' }, async () => {
      logger.info({ step: 1 }, 'first');
      await sleep(1);
      logger.child({ component: 'x' }).info('second');
    });
    logger.info('outside');
    expect(lines[0]).toMatchObject({ correlationId: 'req-1', sessionId: 's-1', step: 1 });
    expect(lines[1]).toMatchObject({ correlationId: 'req-1', component: 'x' });
    expect(lines[1]).not.toHaveProperty('step');
    expect(lines[2]).not.toHaveProperty('correlationId');
  });

  it("routes Nest's logger calls through it, with their context", () => {
    const { lines, stream } = capture();
    const nest = createNestLogger(createRootLogger({ level: 'log', destination: stream }));
    runWithLogContext({ correlationId: 'c-9' }, () => nest.log('hello', 'SessionRunWorker'));
    nest.error('failed', 'Error: x\n    at y (z.ts:1:1)', 'Worker');
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'hello', context: 'SessionRunWorker', correlationId: 'c-9' });
    expect(lines[1]).toMatchObject({ level: 'error', context: 'Worker' });
  });

  it("writes Nest's start-up chatter (modules, routes) at debug, everything else at its own level", () => {
    const { lines, stream } = capture();
    const nest = createNestLogger(createRootLogger({ level: 'log', destination: stream }));
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    nest.log('Mapped {/api/v1/sessions, GET} route', 'RouterExplorer');
    nest.log('Nest application successfully started', 'NestApplication');
    nest.log('API ready', 'Bootstrap');
    nest.error('cannot listen', 'NestApplication');
    expect(lines.map((line) => line.msg)).toEqual(['API ready', 'cannot listen']);

    const all = capture();
    createNestLogger(createRootLogger({ level: 'debug', destination: all.stream })).log('x', 'RoutesResolver');
    expect(all.lines[0]).toMatchObject({ level: 'debug', msg: 'x', context: 'RoutesResolver' });
  });
});

describe('LOG_FORMAT', () => {
  it('is what is configured, else pretty on a terminal and JSON otherwise', () => {
    expect(logFormatFor(undefined, { isTTY: true })).toBe('pretty');
    expect(logFormatFor(undefined, { isTTY: false })).toBe('json');
    expect(logFormatFor(undefined, {})).toBe('json');
    expect(logFormatFor('json', { isTTY: true })).toBe('json');
    expect(logFormatFor('pretty', { isTTY: false })).toBe('pretty');
  });

  it('pretty: one readable line per entry, with its time, level, context and log context', async () => {
    const out = text();
    const logger = createRootLogger({ level: 'log', format: 'pretty', destination: out.stream });
    runWithLogContext({ correlationId: 'req-7' }, () => logger.child({ context: 'SessionRunWorker' }).warn('slow run'));
    logger.info(
      { correlationId: 'req-8', req: { method: 'GET', url: '/api/v1/sessions' }, res: { statusCode: 200 }, responseTime: 12 },
      'request completed',
    );
    logger.debug('hidden');
    await sleep(1);
    const [warned, served, ...rest] = out.lines();
    expect(rest).toEqual([]);
    expect(warned).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: \[SessionRunWorker\] slow run \{"correlationId":"req-7"\}$/);
    expect(served).toMatch(/INFO: GET \/api\/v1\/sessions 200 12ms \{"correlationId":"req-8"\}$/);
    expect(out.lines().join('\n')).not.toMatch(/"pid"|hostname/);
  });

  it('json is the default, also for a destination', () => {
    const { lines, stream } = capture();
    createRootLogger({ level: 'log', destination: stream }).info('x');
    expect(lines[0]).toMatchObject({ level: 'info', msg: 'x' });
  });
});

describe('correlation ids', () => {
  it('keeps a sane id a client sent, and makes one otherwise', () => {
    expect(correlationIdFrom('test-123')).toBe('test-123');
    expect(correlationIdFrom(['a.b:c_d', 'other'])).toBe('a.b:c_d');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'new\nline', '{"json":1}']) {
      expect(correlationIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { correlationIdFrom, runWithLogContext } from './log-context';
import { createNestLogger, createRootLogger } from './root-logger';

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

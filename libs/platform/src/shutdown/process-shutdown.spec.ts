import { INestApplicationContext, Logger } from '@nestjs/common';
import { ProcessShutdown } from './process-shutdown';
import { stopOnSignals } from './stop-on-signals';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('ProcessShutdown', () => {
  it('runs every step at once, lets them work until the grace is over, and resolves when all are done', async () => {
    const shutdown = new ProcessShutdown();
    const seen: string[] = [];
    shutdown.onDrain('quick', async (graceOver) => void seen.push(`quick ${graceOver.aborted}`));
    shutdown.onDrain('slow', (graceOver) => new Promise<void>((resolve) => graceOver.addEventListener('abort', () => (seen.push('slow handed over'), resolve()))));
    expect(shutdown.draining).toBe(false);

    const drained = shutdown.drain(50);
    expect(shutdown.draining).toBe(true);
    expect(shutdown.drain(10_000)).toBe(drained); // once
    await drained;
    expect(seen).toEqual(['quick false', 'slow handed over']);
    expect(String(shutdown.graceOver.reason)).toContain('grace of 0 s is over');
  });

  it('ends the grace early when asked (a second signal), and survives a failing step', async () => {
    const logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    const shutdown = new ProcessShutdown();
    shutdown.onDrain('broken', async () => {
      throw new Error('boom');
    });
    const waiting = jest.fn((graceOver: AbortSignal) => new Promise<void>((resolve) => graceOver.addEventListener('abort', () => resolve())));
    shutdown.onDrain('waiting', waiting);
    const removed = shutdown.onDrain('removed', async () => undefined);
    removed();
    const drained = shutdown.drain(60_000);
    shutdown.endGrace('a second SIGTERM');
    await drained;
    expect(waiting).toHaveBeenCalledTimes(1);
    expect(String(shutdown.graceOver.reason)).toContain('a second SIGTERM');
    expect(logged).toHaveBeenCalledWith('Draining broken failed: boom');
    logged.mockRestore();
  });
});

describe('stopOnSignals', () => {
  function fakeApp(shutdown: ProcessShutdown, close: () => Promise<void> = async () => undefined) {
    return { get: () => shutdown, close: jest.fn(close) } as unknown as INestApplicationContext & { close: jest.Mock };
  }

  it('drains, then closes the application, then exits 0; a second signal ends the grace, a third exits 1 at once', async () => {
    const shutdown = new ProcessShutdown();
    const order: string[] = [];
    shutdown.onDrain('runs', (graceOver) => new Promise<void>((resolve) => graceOver.addEventListener('abort', () => (order.push('handed over'), resolve()))));
    const app = fakeApp(shutdown, async () => void order.push('closed'));
    const exits: number[] = [];
    const off = stopOnSignals(app, { graceSeconds: 3600, logger: quiet, exit: (code) => void exits.push(code), signals: ['SIGUSR2'] });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await tick();
      expect(shutdown.draining).toBe(true);
      expect(app.close).not.toHaveBeenCalled(); // the grace (an hour) is not over
      process.emit('SIGUSR2', 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(order).toEqual(['handed over', 'closed']);
      expect(exits).toEqual([0]);
      process.emit('SIGUSR2', 'SIGUSR2');
      expect(exits).toEqual([0, 1]);
    } finally {
      off();
    }
  });

  it('exits 1 when closing fails', async () => {
    const app = fakeApp(new ProcessShutdown(), async () => {
      throw new Error('database gone');
    });
    const exits: number[] = [];
    const off = stopOnSignals(app, { graceSeconds: 0, logger: quiet, exit: (code) => void exits.push(code), signals: ['SIGUSR2'] });
    try {
      process.emit('SIGUSR2', 'SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(exits).toEqual([1]);
    } finally {
      off();
    }
  });
});

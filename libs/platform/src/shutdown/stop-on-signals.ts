import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { ProcessShutdown } from './process-shutdown';

export interface StopOnSignalsOptions {
  /** SHUTDOWN_GRACE_SECONDS. */
  graceSeconds: number;
  logger: Pick<LoggerService, 'log' | 'warn' | 'error'>;
  /** How the process ends (default process.exit). */
  exit?: (code: number) => void;
  /** Default SIGTERM and SIGINT. */
  signals?: NodeJS.Signals[];
}

/**
 * A planned stop on SIGTERM or SIGINT: the process drains (ProcessShutdown: no new work, work in
 * progress gets `graceSeconds` to finish, the rest is handed over), then the application closes
 * and the process exits 0 (1 when the stop itself failed). A second signal ends the grace at once;
 * a third exits at once. Instead of Nest's enableShutdownHooks, which closes at once.
 */
export function stopOnSignals(app: INestApplicationContext, options: StopOnSignalsOptions): () => void {
  const { graceSeconds, logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const shutdown = app.get(ProcessShutdown);
  let received = 0;

  const stop = async (signal: NodeJS.Signals) => {
    const began = Date.now();
    logger.log(`${signal}: stopping. No new work is taken; work under way has ${graceSeconds} s to finish, then the rest is handed over (${signal} again: hand over now)`);
    try {
      await shutdown.drain(graceSeconds * 1000);
      await app.close();
    } catch (err) {
      logger.error(`The stop failed: ${(err as Error).message}`);
      return exit(1);
    }
    logger.log(`Stopped after ${((Date.now() - began) / 1000).toFixed(1)} s`);
    exit(0);
  };

  const onSignal = (signal: NodeJS.Signals) => {
    received += 1;
    if (received === 1) return void stop(signal);
    if (received === 2 && !shutdown.graceOver.aborted) {
      logger.warn(`${signal} again: the grace ends now; what still runs is handed over (once more: exit at once)`);
      return shutdown.endGrace(`a second ${signal}`);
    }
    logger.error(`${signal} again: exiting at once, before the stop finished`);
    exit(1);
  };

  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  signals.forEach((signal) => process.on(signal, onSignal));
  return () => signals.forEach((signal) => process.off(signal, onSignal));
}

import type { LoggerService, LogLevel } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { DestinationStream, Level, Logger as Pino } from 'pino';
import { currentLogContext } from './log-context';

/** Nest's level names (LOG_LEVEL) → pino's. */
const PINO_LEVEL: Record<LogLevel, Level> = {
  fatal: 'fatal',
  error: 'error',
  warn: 'warn',
  log: 'info',
  debug: 'debug',
  verbose: 'trace',
};

export interface RootLoggerOptions {
  /** LOG_LEVEL (Nest's names), or 'silent'. */
  level: LogLevel | 'silent' | string;
  /** Default: stdout. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/**
 * The process's one pino logger: JSON lines with ISO time and level names, and on every line
 * written inside a log context (an HTTP request, a worker's run) its correlationId and sessionId.
 */
export function createRootLogger({ level, destination }: RootLoggerOptions): Pino {
  const options: pino.LoggerOptions = {
    level: level === 'silent' ? 'silent' : (PINO_LEVEL[level as LogLevel] ?? 'info'),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // A fresh object: pino merges the line's own fields into what the mixin returns.
    mixin: () => {
      const context = currentLogContext();
      return context ? { ...context } : {};
    },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** Always the given root logger; nestjs-pino's own PinoLogger keeps the first root of the process. */
class RootPinoLogger extends PinoLogger {
  constructor(private readonly root: Pino) {
    super({ pinoHttp: { logger: root } });
  }

  override get logger(): Pino {
    return this.root;
  }
}

/** Nest's LoggerService over the root logger (the Nest context becomes the `context` field). */
export function createNestLogger(root: Pino): LoggerService {
  return new NestPinoLogger(new RootPinoLogger(root), {});
}

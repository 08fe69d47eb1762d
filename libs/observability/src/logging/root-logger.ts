import type { LoggerService, LogLevel } from '@nestjs/common';
import { Logger as NestPinoLogger, PinoLogger } from 'nestjs-pino';
import pino, { DestinationStream, Level, Logger as Pino } from 'pino';
import pretty from 'pino-pretty';
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

/** LOG_FORMAT: one JSON object per line, or readable coloured lines for a person at a terminal. */
type LogFormat = 'json' | 'pretty';

interface RootLoggerOptions {
  /** LOG_LEVEL (Nest's names), or 'silent'. */
  level: LogLevel | 'silent' | string;
  /** Default: json. */
  format?: LogFormat;
  /** Default: stdout. Tests pass a stream to read the lines back. */
  destination?: DestinationStream;
}

/** LOG_FORMAT when set; otherwise pretty on a terminal and JSON for a pipe, a file or a log collector. */
export function logFormatFor(configured: LogFormat | undefined, stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return configured ?? (stdout.isTTY ? 'pretty' : 'json');
}

/**
 * The process's one pino logger: lines with ISO time and level names, and on every line
 * written inside a log context (an HTTP request, a worker's run) its correlationId and sessionId.
 * JSON lines, or (format pretty) the same lines made readable by pino-pretty.
 */
export function createRootLogger({ level, format = 'json', destination }: RootLoggerOptions): Pino {
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
  if (format === 'pretty') return pino(options, prettyStream(destination));
  return destination ? pino(options, destination) : pino(options);
}

/**
 * `[12:00:01.234] INFO: [Bootstrap] message {"correlationId":…}`, one line each (an error's
 * stack below it); a request line as `GET /api/v1/sessions 200 12ms`. Synchronous, so that the
 * last lines before an exit are written.
 */
function prettyStream(destination?: DestinationStream): DestinationStream {
  return pretty({
    destination: destination ?? 1,
    sync: true,
    // Colours on a terminal that shows them (NO_COLOR, FORCE_COLOR respected); never into a stream.
    colorize: destination === undefined && pretty.isColorSupported,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context,req,res,responseTime',
    singleLine: true,
    messageFormat: (line, messageKey) => {
      const context = typeof line.context === 'string' ? `[${line.context}] ` : '';
      const req = line.req as { method?: string; url?: string } | undefined;
      const res = line.res as { statusCode?: number } | undefined;
      if (req?.method && res?.statusCode !== undefined) {
        return `${context}${req.method} ${req.url} ${res.statusCode} ${String(line.responseTime ?? '?')}ms`;
      }
      return `${context}${String(line[messageKey] ?? '')}`;
    },
  });
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

/** Nest's own start-up chatter (each module initialised, each route mapped): debug, not info. */
const NEST_START_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);

class RootNestLogger extends NestPinoLogger {
  override log(message: unknown, ...optionalParams: unknown[]): void {
    const context = optionalParams[optionalParams.length - 1];
    if (typeof context === 'string' && NEST_START_CONTEXTS.has(context)) super.debug(message, ...optionalParams);
    else super.log(message, ...optionalParams);
  }
}

/** Nest's LoggerService over the root logger (the Nest context becomes the `context` field). */
export function createNestLogger(root: Pino): LoggerService {
  return new RootNestLogger(new RootPinoLogger(root), {});
}

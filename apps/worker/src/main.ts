import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig, loadConfigOrExit } from '@app/config';
import { createNestLogger, createRootLogger, logFormatFor, NestPinoLogger } from '@app/observability';
import { OpencodeFleet } from '@app/opencode';
import { stopOnSignals } from '@app/platform';
import type { Logger as Pino } from 'pino';
import { runMigrations } from '@app/migrations';
import { WorkerModule } from './worker.module';

/**
 * `node dist/apps/worker/src/main.js`: a session worker alone, to scale out on other machines.
 * Serves GET /metrics and GET /health on WORKER_METRICS_PORT; logs go to stdout in LOG_FORMAT
 * (default: readable lines on a terminal, JSON lines otherwise). SIGTERM or SIGINT stops it
 * gracefully: no new jobs, the running turns get SHUTDOWN_GRACE_SECONDS to finish, the rest is
 * handed over, then its managed OpenCode servers stop and it exits 0. A second signal ends the
 * grace at once; a third exits at once.
 */
async function bootstrap(config: AppConfig, root: Pino): Promise<void> {
  Logger.overrideLogger(createNestLogger(root));
  await runMigrations(config);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, { logger: root }));
  app.useLogger(app.get(NestPinoLogger));
  const logger = new Logger('Bootstrap');
  stopOnSignals(app, { graceSeconds: config.shutdownGraceSeconds, logger });
  const servers = app.get(OpencodeFleet, { strict: false }).list();
  const opencode = servers.map((s) => `${s.managed ? 'managed server' : 'server'} at ${s.url}`).join(', ');
  logger.log(`Session worker running; OpenCode: ${opencode}`);
}

const config = loadConfigOrExit();
const root = createRootLogger({ level: config.logLevel, format: logFormatFor(config.logFormat) });
bootstrap(config, root).catch((err: Error) => {
  root.fatal({ err }, `Start-up failed: ${err.message}`);
  process.exit(1);
});

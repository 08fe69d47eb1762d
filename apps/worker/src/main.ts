import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig, loadConfigOrExit } from '@app/config';
import { createNestLogger, createRootLogger, NestPinoLogger } from '@app/observability';
import type { Logger as Pino } from 'pino';
import { runMigrations } from '../../../migrations/data-source';
import { WorkerModule } from './worker.module';

/**
 * `node dist/apps/worker/src/main.js`: a session worker alone, to scale out on other machines.
 * Serves GET /metrics and GET /health on WORKER_METRICS_PORT; logs are JSON lines on stdout.
 */
async function bootstrap(config: AppConfig, root: Pino): Promise<void> {
  Logger.overrideLogger(createNestLogger(root));
  await runMigrations(config);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, { logger: root }));
  app.useLogger(app.get(NestPinoLogger));
  app.enableShutdownHooks();
  new Logger('Bootstrap').log('Session worker running');
}

const config = loadConfigOrExit();
const root = createRootLogger({ level: config.logLevel });
bootstrap(config, root).catch((err: Error) => {
  root.fatal({ err }, `Start-up failed: ${err.message}`);
  process.exit(1);
});

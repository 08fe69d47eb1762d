import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig, loadConfigOrExit } from '@app/config';
import { createNestLogger, createRootLogger, NestPinoLogger } from '@app/observability';
import type { Logger as Pino } from 'pino';
import { runMigrations } from '../../../migrations/data-source';
import { AppModule } from './app.module';
import { configureHttp } from './http/configure-http';

/**
 * `node dist/apps/api/src/main.js [--with-worker]`: migrations, then the API (and, with
 * --with-worker, the session worker in the same process). Logs are JSON lines on stdout.
 */
async function bootstrap(config: AppConfig, root: Pino): Promise<void> {
  const withWorker = process.argv.includes('--with-worker');
  // Start-up lines before the application exists go through the same logger.
  Logger.overrideLogger(createNestLogger(root));
  const logger = new Logger('Bootstrap');
  const applied = await runMigrations(config);
  logger.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');

  const app = await NestFactory.create(AppModule.forRoot({ config, withWorker, logger: root }));
  app.useLogger(app.get(NestPinoLogger));
  configureHttp(app, config);
  await app.listen(config.port);
  logger.log(
    `API listening on http://127.0.0.1:${config.port} (docs at /docs, jobs at /queues, metrics at /metrics)` +
      (withWorker ? ' with the session worker' : ''),
  );
}

const config = loadConfigOrExit();
const root = createRootLogger({ level: config.logLevel });
bootstrap(config, root).catch((err: Error) => {
  root.fatal({ err }, `Start-up failed: ${err.message}`);
  process.exit(1);
});

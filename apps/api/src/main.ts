import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
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
  await app.listen(config.port, config.host);
  const url = listeningUrl(app.getHttpServer().address());
  logger.log(
    `API listening on ${url} (docs at /docs, jobs at /queues, metrics at /metrics)` +
      (withWorker ? ' with the session worker' : ''),
  );
  if (!config.apiKey) {
    // The config refuses a non-loopback HOST without API_KEY, so only this machine can connect.
    logger.warn(
      `API_KEY is not set: authentication is off, and every local user and process that can reach ${url} ` +
        'acts as admin (sessions run commands through the agents). Set API_KEY to require keys.',
    );
  }
}

/** The address the server really bound (IPv6 in brackets). */
function listeningUrl(address: string | AddressInfo | null): string {
  if (!address || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

const config = loadConfigOrExit();
const root = createRootLogger({ level: config.logLevel });
bootstrap(config, root).catch((err: Error) => {
  root.fatal({ err }, `Start-up failed: ${err.message}`);
  process.exit(1);
});

import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppConfig, loadConfigOrExit } from '@app/config';
import { createNestLogger, createRootLogger, logFormatFor, NestPinoLogger } from '@app/observability';
import { OpencodeFleet } from '@app/opencode';
import { stopOnSignals } from '@app/platform';
import type { Logger as Pino } from 'pino';
import { runMigrations } from '@app/migrations';
import { AppModule, usesOpencode } from './app.module';
import { configureHttp } from './http/configure-http';

/**
 * `node dist/apps/api/src/main.js [--with-worker]`: migrations, then the API (and, with
 * --with-worker, the session worker in the same process). Logs go to stdout in LOG_FORMAT
 * (default: readable lines on a terminal, JSON lines otherwise). SIGTERM or SIGINT stops it
 * gracefully: no new connections or requests (readiness 503), the requests in flight (and, with
 * the worker, the running turns) get SHUTDOWN_GRACE_SECONDS to finish, the rest is handed over,
 * then it exits 0. A second signal ends the grace at once; a third exits at once.
 */
async function bootstrap(config: AppConfig, root: Pino): Promise<void> {
  const withWorker = process.argv.includes('--with-worker');
  // Start-up lines before the application exists go through the same logger.
  Logger.overrideLogger(createNestLogger(root));
  const logger = new Logger('Bootstrap');
  const applied = await runMigrations(config);
  if (applied.length) logger.log(`Applied migrations: ${applied.join(', ')}`);
  else logger.debug('Database schema is up to date');

  const app = await NestFactory.create(AppModule.forRoot({ config, withWorker, logger: root }));
  app.useLogger(app.get(NestPinoLogger));
  configureHttp(app, config);
  stopOnSignals(app, { graceSeconds: config.shutdownGraceSeconds, logger });
  await app.listen(config.port, config.host);
  const url = listeningUrl(app.getHttpServer().address());
  // The one line an operator needs: where everything is, and what runs in this process.
  const worker = withWorker ? 'in this process' : 'none here (start apps/worker)';
  const opencode = usesOpencode(config, withWorker) ? opencodeServers(app.get(OpencodeFleet, { strict: false })) : 'managed by the workers';
  logger.log(
    `API listening on ${url} (Swagger ${url}/docs, jobs dashboard ${url}/queues, metrics ${url}/metrics); ` +
      `session worker: ${worker}; OpenCode: ${opencode}`,
  );
  if (!config.apiKey) {
    // The config refuses a non-loopback HOST without API_KEY, so only this machine can connect.
    logger.warn(
      `API_KEY is not set: authentication is off, and every local user and process that can reach ${url} ` +
        'acts as admin (sessions run commands through the agents). Set API_KEY to require keys.',
    );
  }
}

/** `managed server at http://127.0.0.1:41234, server at http://oc.internal:4096`: this process's OpenCode servers. */
function opencodeServers(fleet: OpencodeFleet): string {
  return fleet.list().map((s) => `${s.managed ? 'managed server' : 'server'} at ${s.url}`).join(', ') || 'none';
}

/** The address the server really bound (IPv6 in brackets). */
function listeningUrl(address: string | AddressInfo | null): string {
  if (!address || typeof address === 'string') return String(address);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

const config = loadConfigOrExit();
const root = createRootLogger({ level: config.logLevel, format: logFormatFor(config.logFormat) });
bootstrap(config, root).catch((err: Error) => {
  root.fatal({ err }, `Start-up failed: ${err.message}`);
  process.exit(1);
});

import type { INestApplication, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppConfig } from '@app/config';
import { runMigrations } from '@app/migrations';
import { createRootLogger } from '@app/observability';
import axios, { AxiosInstance } from 'axios';
import { AppModule } from '../../apps/api/src/app.module';
import { configureHttp } from '../../apps/api/src/http/configure-http';

/**
 * The real app (API and worker in one process) for a benchmark: migrations, then Nest with
 * `nestLogger`, listening on a free loopback port, and a client of its API. Pino's lines at
 * 'error', without the audit lines (written at info whatever LOG_LEVEL says: one per request).
 * `started` gets the app as soon as it exists, so that the caller closes it even when listening fails.
 */
export async function startBenchApp(config: AppConfig, nestLogger: LoggerService, started: (app: INestApplication) => void = () => undefined): Promise<{ app: INestApplication; api: AxiosInstance }> {
  await runMigrations(config);
  const logger = createRootLogger({ level: 'error', destination: { write: (line: string) => void (line.includes('"msg":"audit"') || process.stdout.write(line)) } });
  const app = await NestFactory.create(AppModule.forRoot({ config, withWorker: true, logger }), { logger: nestLogger });
  started(app);
  configureHttp(app, config);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, api: axios.create({ baseURL: `http://127.0.0.1:${address.port}`, timeout: 60_000 }) };
}

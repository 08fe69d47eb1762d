import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '@app/config';
import { createRootLogger, NestPinoLogger } from '@app/observability';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { AppModule } from '../../apps/api/src/app.module';
import { configureHttp } from '../../apps/api/src/http/configure-http';
import { testConfig } from './database';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  http: ReturnType<typeof request>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  withWorker?: boolean;
  env?: Record<string, string>;
  /**
   * Where the app's JSON log lines go (at the config's LOG_LEVEL), Nest's own lines included;
   * for tests that read logs. Default: Nest logs errors and warnings to the console as usual,
   * and the JSON request log is off, so that tests stay quiet.
   */
  logs?: DestinationStream;
}

/**
 * The real application (API, and the worker unless withWorker is false) on the test database,
 * the local Redis and the shared test `opencode serve` started by the global setup.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig({ WORKER_LEASE_SECONDS: '3', ...options.env });
  const logger = createRootLogger({ level: options.logs ? config.logLevel : 'silent', destination: options.logs });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot({ config, withWorker: options.withWorker ?? true, logger })],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  if (options.logs) app.useLogger(app.get(NestPinoLogger));
  configureHttp(app, config);
  await app.init();
  return {
    app,
    config,
    http: request(app.getHttpServer()),
    close: () => app.close(),
  };
}

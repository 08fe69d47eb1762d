import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '@app/config';
import { createRootLogger, NestPinoLogger } from '@app/observability';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { AppModule } from '../../apps/api/src/app.module';
import { configureHttp } from '../../apps/api/src/http/configure-http';
import { testConfig } from './database';
import { onTestFileEnd } from './test-file';

export interface TestApp {
  app: INestApplication;
  config: AppConfig;
  http: ReturnType<typeof request>;
  /** Closes the app; once (later calls wait for the first). Done when the file ends, if the test did not. */
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
 * The real application (API, and the worker unless withWorker is false) on this test file's
 * database and queue prefix, the machine's Redis (or the one `env` names) and the shared test
 * `opencode serve` started by the global setup.
 */
export async function createTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = testConfig({ WORKER_LEASE_SECONDS: '3', ...options.env });
  const logger = createRootLogger({ level: options.logs ? config.logLevel : 'silent', destination: options.logs });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot({ config, withWorker: options.withWorker ?? true, logger })],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  let closed: Promise<void> | undefined;
  const close = () => (closed ??= app.close());
  const forget = onTestFileEnd(close);
  if (options.logs) app.useLogger(app.get(NestPinoLogger));
  configureHttp(app, config);
  await app.init();
  return {
    app,
    config,
    http: request(app.getHttpServer()),
    close: () => {
      forget();
      return close();
    },
  };
}

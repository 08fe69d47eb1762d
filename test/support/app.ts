import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig } from '@app/config';
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

/**
 * The real application (API, and the worker unless withWorker is false) on the test database,
 * the local Redis and the shared test `opencode serve` started by the global setup.
 */
export async function createTestApp(
  options: { withWorker?: boolean; env?: Record<string, string> } = {},
): Promise<TestApp> {
  const config = testConfig({ WORKER_LEASE_SECONDS: '3', ...options.env });
  const moduleRef = await Test.createTestingModule({
    imports: [AppModule.forRoot({ config, withWorker: options.withWorker ?? true })],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  configureHttp(app, config);
  await app.init();
  return {
    app,
    config,
    http: request(app.getHttpServer()),
    close: () => app.close(),
  };
}

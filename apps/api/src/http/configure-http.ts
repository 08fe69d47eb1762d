import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '@app/config';
import { Metrics, ROOT_LOGGER } from '@app/observability';
import { ErrorResponseDto } from '@app/session';
import { apiKeyMiddleware } from './api-key.middleware';
import { DomainErrorFilter } from './domain-error.filter';
import { httpMetricsMiddleware } from './http-metrics.middleware';
import { requestContextMiddleware } from './request-context.middleware';
import { createValidationPipe } from './validation';

/** Everything HTTP-wide, shared by main.ts and the e2e tests so they test what runs. */
export function configureHttp(app: INestApplication, config: AppConfig): void {
  // First, so that every response (401s included) has a correlation id, a log line and a sample.
  app.use(requestContextMiddleware(app.get(ROOT_LOGGER)));
  app.use(httpMetricsMiddleware(app.get(Metrics)));
  app.use(apiKeyMiddleware(config.apiKey));
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new DomainErrorFilter());
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('OpenCode Industrial Orchestrator')
      .setDescription(
        'Plans, runs, watches and recovers autonomous coding sessions on OpenCode servers. ' +
          'Every error is {statusCode, code, message, details?}. When API_KEY is set, /api and /queues need a bearer token. ' +
          'Every response carries x-request-id (the one sent, or a new one); Prometheus metrics at GET /metrics.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [ErrorResponseDto] },
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { HttpAccessMiddleware } from '@app/auth';
import { AppConfig } from '@app/config';
import { Metrics, ROOT_LOGGER } from '@app/observability';
import { ErrorResponseDto } from '@app/http';
import { OutageClassifier, ProcessShutdown } from '@app/platform';
import { DomainErrorFilter } from './domain-error.filter';
import { HttpDrain } from './http-drain';
import { httpMetricsMiddleware } from './http-metrics.middleware';
import { requestContextMiddleware } from './request-context.middleware';
import { createValidationPipe } from './validation';

/** Everything HTTP-wide, shared by main.ts and the e2e tests so they test what runs. */
export function configureHttp(app: INestApplication, config: AppConfig): void {
  // First, so that every response (401s included) has a correlation id, a log line and a sample.
  app.use(requestContextMiddleware(app.get(ROOT_LOGGER)));
  app.use(httpMetricsMiddleware(app.get(Metrics)));
  // A planned stop (SIGTERM, see main.ts): no new connections or requests, those in flight finish within the grace.
  const shutdown = app.get(ProcessShutdown);
  const drain = new HttpDrain(shutdown);
  app.use(drain.middleware);
  shutdown.onDrain('http', (graceOver) => drain.drain(app.getHttpServer(), graceOver));
  // Before anything that serves: Bull Board, Swagger's files and every route are behind it (the
  // global AccessGuard then checks each Nest route's role). Authentication is off without API_KEY.
  app.use(app.get(HttpAccessMiddleware).handle);
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new DomainErrorFilter(app.get(OutageClassifier)));

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('OpenCode Industrial Orchestrator')
      .setDescription(
        'Plans, runs, watches and recovers autonomous coding sessions on OpenCode servers. ' +
          'Every error is {statusCode, code, message, details?}. When API_KEY is set, every route but /health/live, /health/ready, ' +
          '/docs, /docs-json and /metrics needs a key (Authorization: Bearer <key>): 401 UNAUTHORIZED without a valid one, ' +
          '403 FORBIDDEN when its role (viewer < operator < admin) is below the route\'s. ' +
          'Every response carries x-request-id (the one sent, or a new one); Prometheus metrics at GET /metrics.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [ErrorResponseDto] },
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { AppConfig } from '@app/config';
import { ErrorResponseDto } from '@app/session';
import { apiKeyMiddleware } from './api-key.middleware';
import { DomainErrorFilter } from './domain-error.filter';
import { createValidationPipe } from './validation';

/** Everything HTTP-wide, shared by main.ts and the e2e tests so they test what runs. */
export function configureHttp(app: INestApplication, config: AppConfig): void {
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
          'Every error is {statusCode, code, message, details?}. When API_KEY is set, /api and /queues need a bearer token.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [ErrorResponseDto] },
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

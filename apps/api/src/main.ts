import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit, logLevels } from '@app/config';
import { runMigrations } from '../../../migrations/data-source';
import { AppModule } from './app.module';
import { configureHttp } from './http/configure-http';

/**
 * `node dist/apps/api/src/main.js [--with-worker]`: migrations, then the API (and, with
 * --with-worker, the session worker in the same process).
 */
async function bootstrap(): Promise<void> {
  const withWorker = process.argv.includes('--with-worker');
  const config = loadConfigOrExit();
  const logger = new Logger('Bootstrap');
  const applied = await runMigrations(config);
  logger.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');

  const app = await NestFactory.create(AppModule.forRoot({ config, withWorker }), {
    logger: logLevels(config.logLevel),
  });
  configureHttp(app, config);
  await app.listen(config.port);
  logger.log(`API listening on http://127.0.0.1:${config.port} (docs at /docs, jobs at /queues)${withWorker ? ' with the session worker' : ''}`);
}

bootstrap().catch((err: Error) => {
  console.error(`Start-up failed: ${err.stack ?? err.message}`);
  process.exit(1);
});

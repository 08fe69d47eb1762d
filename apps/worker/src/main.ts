import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfigOrExit, logLevels } from '@app/config';
import { runMigrations } from '../../../migrations/data-source';
import { WorkerModule } from './worker.module';

/** `node dist/apps/worker/src/main.js`: a session worker alone, to scale out on other machines. */
async function bootstrap(): Promise<void> {
  const config = loadConfigOrExit();
  await runMigrations(config);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: logLevels(config.logLevel),
  });
  app.enableShutdownHooks();
  new Logger('Bootstrap').log('Session worker running');
}

bootstrap().catch((err: Error) => {
  console.error(`Start-up failed: ${err.stack ?? err.message}`);
  process.exit(1);
});

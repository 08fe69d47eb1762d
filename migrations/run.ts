import { AppConfig } from '@app/config';
import { runMigrations } from './data-source';

/** `npm run migrate`: creates the database if missing and applies pending migrations. */
runMigrations(AppConfig.fromEnvironment())
  .then((applied) => {
    console.log(applied.length ? `Applied migrations: ${applied.join(', ')}` : 'Database schema is up to date');
  })
  .catch((err: Error) => {
    console.error(`Migration failed: ${err.message}`);
    process.exit(1);
  });

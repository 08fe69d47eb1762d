import { AppConfig } from '@app/config';
import { runMigrations } from '../../migrations/data-source';

/** The database the integration and e2e tests use; never the development one. */
export const TEST_DB_NAME = 'orchestrator_test';

/** Creates the test database if needed and migrates it (once per jest run, from the global setup). */
export async function prepareTestDatabase(): Promise<void> {
  process.env.DB_NAME = process.env.DB_NAME_TEST ?? TEST_DB_NAME;
  await runMigrations(AppConfig.fromEnvironment());
}

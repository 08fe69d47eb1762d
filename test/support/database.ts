import { AppConfig } from '@app/config';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '../../migrations/data-source';

/** The database the integration and e2e tests use; never the development one. */
export const TEST_DB_NAME = 'orchestrator_test';

/** Creates the test database if needed and migrates it (once per jest run, from the global setup). */
export async function prepareTestDatabase(): Promise<void> {
  process.env.DB_NAME = process.env.DB_NAME_TEST ?? TEST_DB_NAME;
  await runMigrations(AppConfig.fromEnvironment());
}

/** The configuration of a test process: the test database and a queue prefix of its own. */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  return AppConfig.with({
    DB_NAME: process.env.DB_NAME_TEST ?? TEST_DB_NAME,
    QUEUE_PREFIX: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    LOG_LEVEL: 'warn',
    ...overrides,
  });
}

/** A connected DataSource on the test database. */
export async function openTestDataSource(config = testConfig()): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(config));
  return dataSource.initialize();
}

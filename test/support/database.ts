import { AppConfig } from '@app/config';
import { DataSource } from 'typeorm';
import { dataSourceOptions, runMigrations } from '@app/migrations';
import { templateDatabaseName } from './file-database';
import { onTestFileEnd, testFileEnvironment } from './test-file';

/**
 * Every integration and e2e file works on a database of its own, cloned from a template that
 * the global setup migrates once per run, and dropped when the file ends (file-setup.ts). So a
 * recovery sweep of one file never sees another file's sessions, and files may run in parallel.
 */

/** Creates the template if needed and migrates it (global setup, once per project and run). */
export async function prepareTemplateDatabase(): Promise<void> {
  await runMigrations(AppConfig.with({ DB_NAME: templateDatabaseName() }));
}

/** The configuration of a test process: this file's database and queue prefix, the machine's services. */
export function testConfig(overrides: Record<string, string> = {}): AppConfig {
  return AppConfig.with({ ...testFileEnvironment(), LOG_LEVEL: 'warn', ...overrides });
}

/** A connected DataSource on this file's database; destroyed when the file ends unless the test did. */
export async function openTestDataSource(config = testConfig()): Promise<DataSource> {
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  const forget = onTestFileEnd(() => dataSource.isInitialized && dataSource.destroy());
  const destroy = dataSource.destroy.bind(dataSource);
  dataSource.destroy = () => {
    forget();
    return destroy();
  };
  return dataSource;
}

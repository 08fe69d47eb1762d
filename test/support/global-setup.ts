import './register-path-aliases';
import { prepareTemplateDatabase } from './database';
import { dropStaleFileDatabases } from './file-database';
import { startSharedOpencodeServer } from './opencode-test-server';

/**
 * Runs before the integration and e2e projects (jest calls it once per selected project, so
 * every step must be safe to run twice) and hands addresses to the test workers through
 * process.env. Migrates the template every test file's database is cloned from (file-setup.ts),
 * drops the file databases a killed run left, and starts the shared OpenCode server.
 */
export default async function globalSetup(): Promise<void> {
  await prepareTemplateDatabase();
  const stale = await dropStaleFileDatabases();
  if (stale.length) console.log(`\nDropped ${stale.length} test database(s) a killed run left: ${stale.join(', ')}`);
  await startSharedOpencodeServer();
}

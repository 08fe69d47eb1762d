import './register-path-aliases';
import { prepareTestDatabase } from './database';
import { startSharedOpencodeServer } from './opencode-test-server';

/**
 * Runs before the integration and e2e projects (jest calls it once per selected project, so
 * every step must be safe to run twice) and hands addresses to the test workers through
 * process.env. One call per shared service.
 */
export default async function globalSetup(): Promise<void> {
  await prepareTestDatabase();
  await startSharedOpencodeServer();
}

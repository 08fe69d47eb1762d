import { prepareTestDatabase } from './database';

/** Runs once per jest run before the integration and e2e projects. */
export default async function globalSetup(): Promise<void> {
  await prepareTestDatabase();
}

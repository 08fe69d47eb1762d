import type { AppConfig } from '@app/config';
import { Client } from 'pg';

/** Drops the configured database (a benchmark's own), whoever is still connected to it. */
export async function dropDatabase(config: AppConfig): Promise<void> {
  const { host, port, user, password, name } = config.database;
  const client = new Client({ host, port, user, password, database: 'postgres' });
  await client.connect();
  try {
    // The name is a plain identifier (the config schema checks DB_NAME).
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

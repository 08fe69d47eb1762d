import { AppConfig } from '@app/config';
import type { PostgresConnectionOptions } from 'typeorm/driver/postgres/PostgresConnectionOptions';

/**
 * How every process connects to PostgreSQL: the application's TypeORM root and the migrations'
 * data source share it. Entities and migrations are added by each of them; the schema comes from
 * migrations, never from synchronize.
 */
export function postgresConnectionOptions(config: AppConfig): PostgresConnectionOptions {
  return {
    type: 'postgres',
    host: config.database.host,
    port: config.database.port,
    username: config.database.user,
    password: config.database.password,
    database: config.database.name,
    synchronize: false,
    migrationsRun: false,
    extra: { max: 20 },
  };
}

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
    connectTimeoutMS: config.database.connectTimeoutMs,
    extra: { max: 20, ...timeoutsOf(config.database) },
  };
}

/** Client timeout of a query: the server's statement timeout plus time for its answer to arrive. */
const QUERY_TIMEOUT_MARGIN_MS = 5_000;

/**
 * node-postgres pool options: the server cancels a statement past DB_STATEMENT_TIMEOUT_MS, the
 * client gives up on a query that has no answer (a dead connection: no error ever comes) a little
 * later, and TCP keepalive notices a peer that vanished. Without them a write hanging on a dead
 * connection would keep its run job active for ever.
 */
export function timeoutsOf(database: AppConfig['database']): Record<string, unknown> {
  const { statementTimeoutMs, keepAliveSeconds } = database;
  return {
    ...(statementTimeoutMs > 0 ? { statement_timeout: statementTimeoutMs, query_timeout: statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS } : {}),
    keepAlive: keepAliveSeconds > 0,
    ...(keepAliveSeconds > 0 ? { keepAliveInitialDelayMillis: keepAliveSeconds * 1000 } : {}),
  };
}

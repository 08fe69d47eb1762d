import 'reflect-metadata';
import { AppConfig } from '@app/config';
import { Client } from 'pg';
import { DataSource, DataSourceOptions } from 'typeorm';
import {
  AgentOrmEntity,
  AgentRunOrmEntity,
  AgentStatsOrmEntity,
} from '../libs/agent/src/infrastructure/persistence/agent.orm-entity';
import { SessionEventOrmEntity, SessionOrmEntity } from '../libs/session/src/infrastructure/persistence/session.orm-entity';
import { CreateSessions1764000000000 } from './1764000000000-create-sessions';
import { CreateAgents1765000000000 } from './1765000000000-create-agents';
import { SessionAgentAssignment1765000000001 } from './1765000000001-session-agent-assignment';
import { PlanOrmEntity, PlanTaskOrmEntity } from '../libs/task/src/infrastructure/persistence/plan.orm-entity';
import { CreatePlans1766000000000 } from './1766000000000-create-plans';
import { ApiKeyOrmEntity } from '../libs/auth/src/infrastructure/persistence/api-key.orm-entity';
import { CreateApiKeys1767000000000 } from './1767000000000-create-api-keys';
import { AgentBindingPermissions1767000000001 } from './1767000000001-agent-binding-permissions';
import { ApprovalOrmEntity } from '../libs/approval/src/infrastructure/persistence/approval.orm-entity';
import { CreateApprovals1767000000002 } from './1767000000002-create-approvals';

export const ENTITIES = [SessionOrmEntity, SessionEventOrmEntity, AgentOrmEntity, AgentRunOrmEntity, AgentStatsOrmEntity, PlanOrmEntity, PlanTaskOrmEntity, ApiKeyOrmEntity, ApprovalOrmEntity];
/** Arbitrary constant shared by every process of this app. */
const MIGRATION_LOCK_KEY = 7_264_001;

export const MIGRATIONS = [CreateSessions1764000000000, CreateAgents1765000000000, SessionAgentAssignment1765000000001, CreatePlans1766000000000, CreateApiKeys1767000000000, AgentBindingPermissions1767000000001, CreateApprovals1767000000002];

/** The one description of the database, shared by the app, the migration CLI and the tests. */
export function dataSourceOptions(config: AppConfig): DataSourceOptions {
  return {
    type: 'postgres',
    host: config.database.host,
    port: config.database.port,
    username: config.database.user,
    password: config.database.password,
    database: config.database.name,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
    migrationsTransactionMode: 'each',
    extra: { max: 20 },
  };
}

/** Creates the configured database when it does not exist yet. */
export async function ensureDatabase(config: AppConfig): Promise<void> {
  const { host, port, user, password, name } = config.database;
  const client = new Client({ host, port, user, password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      // The name is validated as a plain identifier by the config schema.
      await client.query(`CREATE DATABASE "${name}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

/** Creates the database if needed and applies pending migrations; returns their names. */
export async function runMigrations(config: AppConfig): Promise<string[]> {
  await ensureDatabase(config);
  const dataSource = new DataSource(dataSourceOptions(config));
  await dataSource.initialize();
  try {
    // Several processes may start at once: one applies the migrations, the others wait.
    return await dataSource.transaction(async (em) => {
      await em.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    });
  } finally {
    await dataSource.destroy();
  }
}


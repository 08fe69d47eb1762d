import { AgentOrmEntity, AgentRunOrmEntity, AgentStatsOrmEntity } from './agent.orm-entity';

/** This context's TypeORM entities: registered by its module, listed by the migrations' data source. */
export const AGENT_ENTITIES = [AgentOrmEntity, AgentRunOrmEntity, AgentStatsOrmEntity];

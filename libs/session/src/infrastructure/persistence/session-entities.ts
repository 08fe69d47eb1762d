import { SessionEventOrmEntity, SessionOrmEntity } from './session.orm-entity';

/** This context's TypeORM entities: registered by its module, listed by the migrations' data source. */
export const SESSION_ENTITIES = [SessionOrmEntity, SessionEventOrmEntity];

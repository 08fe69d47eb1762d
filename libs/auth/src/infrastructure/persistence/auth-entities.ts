import { ApiKeyOrmEntity } from './api-key.orm-entity';

/** This context's TypeORM entities: registered by its module, listed by the migrations' data source. */
export const AUTH_ENTITIES = [ApiKeyOrmEntity];

import { ApprovalOrmEntity } from './approval.orm-entity';

/** This context's TypeORM entities: registered by its module, listed by the migrations' data source. */
export const APPROVAL_ENTITIES = [ApprovalOrmEntity];

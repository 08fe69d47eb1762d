import { PlanOrmEntity, PlanTaskOrmEntity } from './plan.orm-entity';

/** This context's TypeORM entities: registered by its module, listed by the migrations' data source. */
export const TASK_ENTITIES = [PlanOrmEntity, PlanTaskOrmEntity];

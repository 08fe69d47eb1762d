// The task context's public entry: what other code uses of it, nothing more.
export { TaskModule } from './task.module';
export { TASK_ENTITIES } from './infrastructure/persistence/task-entities';
export { PlanErrorCode } from './domain/plan.errors';
export { TaskError, TaskErrorCode } from './domain/task.errors';
export { analyseGraph, analysePlan } from './domain/dag';
export type { TaskSpec } from './domain/task-spec';

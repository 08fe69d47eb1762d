import type { TaskRole } from '../../domain/task-spec';
import { Plan, PlanTask } from '../../domain/plan';
import { PlanStatus, TaskStatus } from '../../domain/plan-status';
import { PlanOrmEntity, PlanTaskOrmEntity } from './plan.orm-entity';

export const PlanMapper = {
  toRow(plan: Plan): PlanOrmEntity {
    return Object.assign(new PlanOrmEntity(), plan.snapshot());
  },

  toDomain(row: PlanOrmEntity): Plan {
    return Plan.restore({ ...row, status: row.status as PlanStatus });
  },

  taskToRow(task: PlanTask): PlanTaskOrmEntity {
    const s = task.snapshot();
    return Object.assign(new PlanTaskOrmEntity(), {
      ...s,
      sessions: s.sessions.map((ref) => ({ ...ref, createdAt: ref.createdAt.toISOString() })),
    });
  },

  taskToDomain(row: PlanTaskOrmEntity): PlanTask {
    return PlanTask.restore({
      ...row,
      role: row.role as TaskRole,
      status: row.status as TaskStatus,
      sessions: row.sessions.map((ref) => ({ ...ref, createdAt: new Date(ref.createdAt) })),
    });
  },
};

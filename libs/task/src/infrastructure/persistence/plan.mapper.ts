import type { TaskRole } from '../../domain/task-spec';
import { PausedReason, Plan, PlanTask } from '../../domain/plan';
import type { TaskMerge } from '../../domain/plan-branch';
import { PlanStatus, TaskStatus } from '../../domain/plan-status';
import { PlanOrmEntity, PlanTaskOrmEntity, TaskMergeRow } from './plan.orm-entity';

export const PlanMapper = {
  toRow(plan: Plan): PlanOrmEntity {
    return Object.assign(new PlanOrmEntity(), plan.snapshot());
  },

  toDomain(row: PlanOrmEntity): Plan {
    return Plan.restore({ ...row, status: row.status as PlanStatus, pausedReason: row.pausedReason as PausedReason | null });
  },

  taskToRow(task: PlanTask): PlanTaskOrmEntity {
    const s = task.snapshot();
    return Object.assign(new PlanTaskOrmEntity(), {
      ...s,
      sessions: s.sessions.map((ref) => ({ ...ref, createdAt: ref.createdAt.toISOString() })),
      merge: s.merge && mergeToRow(s.merge),
    });
  },

  taskToDomain(row: PlanTaskOrmEntity): PlanTask {
    return PlanTask.restore({
      ...row,
      role: row.role as TaskRole,
      status: row.status as TaskStatus,
      sessions: row.sessions.map((ref) => ({ ...ref, createdAt: new Date(ref.createdAt) })),
      merge: row.merge && mergeToDomain(row.merge),
    });
  },
};

function mergeToRow(merge: TaskMerge): TaskMergeRow {
  return { ...merge, queuedAt: merge.queuedAt.toISOString(), mergedAt: merge.mergedAt?.toISOString() ?? null };
}

function mergeToDomain(row: TaskMergeRow): TaskMerge {
  return { ...row, queuedAt: new Date(row.queuedAt), mergedAt: row.mergedAt === null ? null : new Date(row.mergedAt) };
}

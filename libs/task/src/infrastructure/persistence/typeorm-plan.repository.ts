import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Plan, PlanTask } from '../../domain/plan';
import { PlanError } from '../../domain/plan.errors';
import { ACTIVE_TASK_STATUSES, LIVE_TASK_STATUSES, PlanStatus } from '../../domain/plan-status';
import { PlanListQuery, PlanRepositoryPort, PrunablePlan, PrunablePlanCursor } from '../../application/ports/plan.repository.port';
import { PlanMapper } from './plan.mapper';
import { PlanOrmEntity, PlanTaskOrmEntity } from './plan.orm-entity';

/**
 * Plans retention may delete (`p` is the plan), written as idx_plans_prunable's predicate so that
 * the planner walks that index; enum constants only, safe to write into a statement.
 */
const PRUNABLE_PLAN = `(p.status IN (${[PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.CANCELLED].map((s) => `'${s}'`).join(',')}) OR (p.status = '${PlanStatus.DRAFT}' AND p.deleted_at IS NOT NULL))`;
/** When a prunable plan ended: finished, or (a DRAFT) deleted. The index's first column. */
const ENDED_AT = 'coalesce(p.finished_at, p.deleted_at)';
/** ... and, a finished one, none of its tasks still live ($live: the live task statuses); a DRAFT's tasks never ran. */
const NO_LIVE_TASK = (live: string) =>
  `(p.status = '${PlanStatus.DRAFT}' OR NOT EXISTS (SELECT 1 FROM plan_tasks t WHERE t.plan_id = p.id AND t.status = ANY(${live})))`;

@Injectable()
export class TypeormPlanRepository implements PlanRepositoryPort {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(plan: Plan, tasks: readonly PlanTask[]): Promise<void> {
    await this.dataSource.transaction(async (em) => {
      await em.insert(PlanOrmEntity, PlanMapper.toRow(plan) as QueryDeepPartialEntity<PlanOrmEntity>);
      if (tasks.length > 0) {
        // In chunks: PostgreSQL takes at most 65,535 parameters per statement.
        for (let i = 0; i < tasks.length; i += 500) {
          await em.insert(PlanTaskOrmEntity, tasks.slice(i, i + 500).map((t) => PlanMapper.taskToRow(t)) as QueryDeepPartialEntity<PlanTaskOrmEntity>[]);
        }
      }
    });
  }

  async updatePlan(plan: Plan): Promise<void> {
    const { id, version, createdAt: _c, updatedAt: _u, ...columns } = PlanMapper.toRow(plan);
    // A soft delete is a write like any other: checked against the version, on a live row.
    plan.persisted(await this.checkedUpdate(PlanOrmEntity, id, version, columns, 'deleted_at IS NULL', 'Plan'));
  }

  async updateTask(task: PlanTask): Promise<void> {
    const { id, version, createdAt: _c, updatedAt: _u, ...columns } = PlanMapper.taskToRow(task);
    task.persisted(await this.checkedUpdate(PlanTaskOrmEntity, id, version, columns, null, 'Task'));
  }

  /** TypeORM's save() does not compare @VersionColumn: the WHERE clause does, and the builder increments it. */
  private async checkedUpdate<E extends ObjectLiteral>(
    entity: EntityTarget<E>,
    id: string,
    version: number,
    columns: object,
    extra: string | null,
    what: string,
  ): Promise<number> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(entity)
      .set(columns as QueryDeepPartialEntity<E>)
      .where(`id = :id AND version = :version${extra ? ` AND ${extra}` : ''}`, { id, version })
      .returning(['version'])
      .execute();
    if (!result.affected) throw PlanError.versionConflict(what, id, version);
    return Number((result.raw as Array<{ version: number }>)[0].version);
  }

  async findById(id: string, options: { includeDeleted?: boolean } = {}): Promise<Plan | null> {
    const row = await this.dataSource.getRepository(PlanOrmEntity).findOne({ where: { id }, withDeleted: options.includeDeleted ?? false });
    return row ? PlanMapper.toDomain(row) : null;
  }

  async tasksOf(planId: string): Promise<PlanTask[]> {
    const rows = await this.dataSource.getRepository(PlanTaskOrmEntity).find({ where: { planId }, order: { position: 'ASC' } });
    return rows.map((r) => PlanMapper.taskToDomain(r));
  }

  async list(query: PlanListQuery): Promise<Plan[]> {
    const qb = this.dataSource
      .getRepository(PlanOrmEntity)
      .createQueryBuilder('p')
      .orderBy('p.created_at', 'DESC')
      .addOrderBy('p.id', 'DESC')
      .limit(query.limit);
    if (query.status) qb.andWhere('p.status = :status', { status: query.status });
    return (await qb.getMany()).map((r) => PlanMapper.toDomain(r));
  }

  async activePlanIds(): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT p.id FROM plans p
        WHERE p.deleted_at IS NULL
          AND (p.status = $1
               OR (p.status = $2 AND EXISTS (SELECT 1 FROM plan_tasks t WHERE t.plan_id = p.id AND t.status = ANY($3)))
               OR (p.status = $4 AND EXISTS (SELECT 1 FROM plan_tasks t WHERE t.plan_id = p.id AND t.status = ANY($5))))
        ORDER BY p.created_at, p.id`,
      [PlanStatus.RUNNING, PlanStatus.CANCELLED, LIVE_TASK_STATUSES, PlanStatus.PAUSED, ACTIVE_TASK_STATUSES],
    );
    return rows.map((r) => r.id);
  }

  async meanComplexityOf(agentId: string, lastN: number): Promise<number | null> {
    const [row]: Array<{ mean: string | null }> = await this.dataSource.query(
      `SELECT avg(complexity) AS mean FROM (
         SELECT complexity FROM plan_tasks WHERE agent_id = $1 AND started_at IS NOT NULL ORDER BY started_at DESC LIMIT $2
       ) recent`,
      [agentId, lastN],
    );
    return row?.mean == null ? null : Number(row.mean);
  }

  async findPrunable(before: Date, limit: number, after: PrunablePlanCursor | null): Promise<PrunablePlan[]> {
    const params: unknown[] = [before, limit, LIVE_TASK_STATUSES];
    if (after) params.push(after.endedAt, after.id);
    const rows: Array<{ id: string; endedAt: Date; sessionIds: string[] }> = await this.dataSource.query(
      `SELECT p.id, ${ENDED_AT} AS "endedAt",
              ARRAY(SELECT DISTINCT ref.id FROM plan_tasks t
                      CROSS JOIN LATERAL (SELECT r->>'sessionId' AS id FROM jsonb_array_elements(t.sessions) r
                                          UNION SELECT t.session_id::text) ref
                     WHERE t.plan_id = p.id AND ref.id IS NOT NULL) AS "sessionIds"
         FROM plans p
        WHERE ${PRUNABLE_PLAN} AND ${ENDED_AT} < $1 AND ${NO_LIVE_TASK('$3')}
          ${after ? `AND (${ENDED_AT}, p.id) > ($4, $5::uuid)` : ''}
        ORDER BY ${ENDED_AT}, p.id
        LIMIT $2`,
      params,
    );
    return rows.map((r) => ({ id: r.id, endedAt: r.endedAt, sessionIds: r.sessionIds }));
  }

  async deletePrunable(ids: readonly string[], before: Date): Promise<{ plans: number; tasks: number }> {
    if (ids.length === 0) return { plans: 0, tasks: 0 };
    return this.dataSource.transaction(async (em) => {
      // Checked again under the lock: a plan a writer holds is left for a later run.
      const locked: Array<{ id: string }> = await em.query(
        `SELECT p.id FROM plans p
          WHERE p.id = ANY($1::uuid[]) AND ${PRUNABLE_PLAN} AND ${ENDED_AT} < $2 AND ${NO_LIVE_TASK('$3')}
          FOR UPDATE OF p SKIP LOCKED`,
        [ids, before, LIVE_TASK_STATUSES],
      );
      const doomed = locked.map((r) => r.id);
      if (doomed.length === 0) return { plans: 0, tasks: 0 };
      // TypeORM answers a DELETE with [rows, affected].
      const [, tasks]: [unknown[], number] = await em.query(`DELETE FROM plan_tasks WHERE plan_id = ANY($1::uuid[])`, [doomed]);
      const [, plans]: [unknown[], number] = await em.query(`DELETE FROM plans WHERE id = ANY($1::uuid[])`, [doomed]);
      return { plans, tasks };
    });
  }
}

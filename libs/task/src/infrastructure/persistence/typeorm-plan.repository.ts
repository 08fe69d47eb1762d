import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityTarget, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { Plan, PlanTask } from '../../domain/plan';
import { PlanError } from '../../domain/plan.errors';
import { ACTIVE_TASK_STATUSES, LIVE_TASK_STATUSES, PlanStatus } from '../../domain/plan-status';
import { PlanListQuery, PlanRepositoryPort } from '../../application/ports/plan.repository.port';
import { PlanMapper } from './plan.mapper';
import { PlanOrmEntity, PlanTaskOrmEntity } from './plan.orm-entity';

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
}

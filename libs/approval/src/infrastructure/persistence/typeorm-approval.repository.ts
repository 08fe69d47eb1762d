import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Brackets, DataSource } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ApprovalListFilter, ApprovalRepositoryPort, SessionRun } from '../../application/ports/approval.repository.port';
import { Approval } from '../../domain/approval';
import { ApprovalStatus } from '../../domain/approval-status';
import { ApprovalError } from '../../domain/approval.errors';
import { ApprovalMapper } from './approval.mapper';
import { ApprovalOrmEntity } from './approval.orm-entity';

@Injectable()
export class TypeormApprovalRepository implements ApprovalRepositoryPort {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  private get repo() {
    return this.dataSource.getRepository(ApprovalOrmEntity);
  }

  async insertOrGet(approval: Approval): Promise<Approval> {
    const row = ApprovalMapper.toRow(approval);
    // One statement, safe against a concurrent insert of the same request (two followers of one turn).
    await this.dataSource
      .createQueryBuilder()
      .insert()
      .into(ApprovalOrmEntity)
      .values(row as QueryDeepPartialEntity<ApprovalOrmEntity>)
      .orIgnore()
      .execute();
    const stored = await this.repo.findOneBy({ sessionId: row.sessionId, opencodeRequestId: row.opencodeRequestId });
    if (!stored) throw new Error(`approval of request ${row.opencodeRequestId} vanished after its insert`);
    return ApprovalMapper.toDomain(stored);
  }

  async findById(id: string): Promise<Approval | null> {
    const row = await this.repo.findOneBy({ id });
    return row ? ApprovalMapper.toDomain(row) : null;
  }

  async list(filter: ApprovalListFilter): Promise<Approval[]> {
    const rows = await this.repo.find({
      where: { ...(filter.status && { status: filter.status }), ...(filter.sessionId && { sessionId: filter.sessionId }) },
      order: { createdAt: 'DESC', id: 'DESC' },
      take: filter.limit,
    });
    return rows.map(ApprovalMapper.toDomain);
  }

  async findPendingOfRuns(runs: readonly SessionRun[]): Promise<Approval[]> {
    if (runs.length === 0) return [];
    const query = this.repo
      .createQueryBuilder('a')
      .where('a.status = :status', { status: ApprovalStatus.PENDING })
      .andWhere(
        new Brackets((any) =>
          runs.forEach((run, i) =>
            any.orWhere(`(a.session_id = :s${i} AND a.attempt = :a${i})`, { [`s${i}`]: run.sessionId, [`a${i}`]: run.attempt }),
          ),
        ),
      )
      .orderBy('a.created_at', 'ASC')
      .addOrderBy('a.id', 'ASC');
    return (await query.getMany()).map(ApprovalMapper.toDomain);
  }

  async findOverdue(now: Date, limit: number): Promise<Approval[]> {
    const rows = await this.repo
      .createQueryBuilder('a')
      .where('a.status = :status AND a.expires_at <= :now', { status: ApprovalStatus.PENDING, now })
      .orderBy('a.expires_at', 'ASC')
      .limit(limit)
      .getMany();
    return rows.map(ApprovalMapper.toDomain);
  }

  async update(approval: Approval): Promise<void> {
    const { id, version, createdAt: _c, sessionId: _s, opencodeRequestId: _r, ...columns } = ApprovalMapper.toRow(approval);
    // save() would not compare the version: the WHERE clause does.
    const result = await this.dataSource
      .createQueryBuilder()
      .update(ApprovalOrmEntity)
      .set({ ...columns, version: version + 1 } as QueryDeepPartialEntity<ApprovalOrmEntity>)
      .where('id = :id AND version = :version', { id, version })
      .execute();
    if (!result.affected) throw ApprovalError.versionConflict(id, version);
    approval.persisted(version + 1);
  }
}

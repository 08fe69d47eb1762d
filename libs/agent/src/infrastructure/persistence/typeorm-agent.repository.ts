import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, FindOptionsWhere, QueryFailedError } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { AgentListFilter, AgentRepositoryPort } from '../../application/ports/agent.repository.port';
import { Agent } from '../../domain/agent';
import { AgentError } from '../../domain/agent.errors';
import { AgentMapper } from './agent.mapper';
import { AgentOrmEntity } from './agent.orm-entity';

const UNIQUE_VIOLATION = '23505';
const NAME_INDEX = 'ux_agents_name_live';

@Injectable()
export class TypeormAgentRepository implements AgentRepositoryPort {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(agent: Agent): Promise<void> {
    const row = AgentMapper.toRow(agent);
    await this.dataSource
      .getRepository(AgentOrmEntity)
      .insert(withoutStats(row) as QueryDeepPartialEntity<AgentOrmEntity>)
      .catch((err: unknown) => rethrowNameTaken(err, agent.name));
  }

  async findById(id: string, options: { includeDeleted?: boolean } = {}): Promise<Agent | null> {
    const row = await this.dataSource
      .getRepository(AgentOrmEntity)
      .findOne({ where: { id }, withDeleted: options.includeDeleted ?? false });
    return row ? AgentMapper.toDomain(row) : null;
  }

  async list(filter: AgentListFilter = {}): Promise<Agent[]> {
    const where: FindOptionsWhere<AgentOrmEntity> = {};
    if (filter.role !== undefined) where.role = filter.role;
    if (filter.enabled !== undefined) where.enabled = filter.enabled;
    const rows = await this.dataSource.getRepository(AgentOrmEntity).find({ where, order: { name: 'ASC', id: 'ASC' } });
    return rows.map(AgentMapper.toDomain);
  }

  async update(agent: Agent): Promise<void> {
    const { id, version, createdAt: _c, updatedAt: _u, deletedAt: _d, ...columns } = withoutStats(AgentMapper.toRow(agent));
    // TypeORM's save() does not compare @VersionColumn: the WHERE clause does, and the update
    // builder bumps version and updated_at itself.
    const result = await this.dataSource
      .createQueryBuilder()
      .update(AgentOrmEntity)
      .set(columns as QueryDeepPartialEntity<AgentOrmEntity>)
      .where('id = :id AND version = :version AND deleted_at IS NULL', { id, version })
      .returning(['version', 'updated_at'])
      .execute()
      .catch((err: unknown) => rethrowNameTaken(err, agent.name));
    if (!result.affected) throw AgentError.versionConflict(id, version);
    const [stored] = result.raw as Array<{ version: number; updated_at: Date }>;
    agent.persisted(Number(stored.version), stored.updated_at);
  }

  async softDelete(id: string): Promise<boolean> {
    const result = await this.dataSource
      .createQueryBuilder()
      .update(AgentOrmEntity)
      .set({ deletedAt: () => 'now()' })
      .where('id = :id AND deleted_at IS NULL', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}

function withoutStats({ stats: _s, ...row }: AgentOrmEntity): Omit<AgentOrmEntity, 'stats'> {
  return row;
}

function rethrowNameTaken(err: unknown, name: string): never {
  const driverError = err instanceof QueryFailedError ? (err.driverError as { code?: string; constraint?: string }) : undefined;
  if (driverError?.code === UNIQUE_VIOLATION && driverError.constraint === NAME_INDEX) throw AgentError.nameTaken(name);
  throw err;
}

import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ApiKeyRepositoryPort } from '../../application/ports/api-key.repository.port';
import { ApiKey } from '../../domain/api-key';
import { AuthError } from '../../domain/auth.errors';
import { ApiKeyMapper } from './api-key.mapper';
import { ApiKeyOrmEntity } from './api-key.orm-entity';

@Injectable()
export class TypeormApiKeyRepository implements ApiKeyRepositoryPort {
  private selectList?: string;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async insert(key: ApiKey): Promise<void> {
    await this.dataSource.getRepository(ApiKeyOrmEntity).insert(ApiKeyMapper.toRow(key) as QueryDeepPartialEntity<ApiKeyOrmEntity>);
  }

  /**
   * Runs on every request made with a stored key: one named prepared statement on the driver's
   * pool and the unique index on key_hash, not a query built through TypeORM each time.
   */
  async findByHash(keyHash: string): Promise<ApiKey | null> {
    const pool = (this.dataSource.driver as PostgresDriver).master as Pool;
    const text = `SELECT ${this.columns()} FROM api_keys WHERE key_hash = $1`;
    const { rows } = await pool.query<ApiKeyOrmEntity>({ name: 'api_key_by_hash', text, values: [keyHash] });
    return rows[0] ? ApiKeyMapper.toDomain(rows[0]) : null;
  }

  async findById(id: string): Promise<ApiKey | null> {
    const row = await this.dataSource.getRepository(ApiKeyOrmEntity).findOne({ where: { id } });
    return row ? ApiKeyMapper.toDomain(row) : null;
  }

  async list(): Promise<ApiKey[]> {
    const rows = await this.dataSource.getRepository(ApiKeyOrmEntity).find({ order: { createdAt: 'DESC', id: 'DESC' } });
    return rows.map(ApiKeyMapper.toDomain);
  }

  async update(key: ApiKey): Promise<void> {
    const { id, version, createdAt: _c, updatedAt: _u, keyHash: _h, ...columns } = ApiKeyMapper.toRow(key);
    // TypeORM's save() does not compare @VersionColumn: the WHERE clause does, and the update
    // builder bumps version and updated_at itself.
    const result = await this.dataSource
      .createQueryBuilder()
      .update(ApiKeyOrmEntity)
      .set(columns as QueryDeepPartialEntity<ApiKeyOrmEntity>)
      .where('id = :id AND version = :version', { id, version })
      .returning(['version'])
      .execute();
    if (!result.affected) throw AuthError.versionConflict(id, version);
    key.persisted(Number((result.raw as Array<{ version: number }>)[0].version));
  }

  private columns(): string {
    this.selectList ??= this.dataSource
      .getMetadata(ApiKeyOrmEntity)
      .columns.map((c) => `"${c.databaseName}" AS "${c.propertyName}"`)
      .join(', ');
    return this.selectList;
  }
}

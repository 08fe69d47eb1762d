import { Injectable, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import { DataSource, EntityManager, In, IsNull, Not } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import {
  SessionEventRecord,
  SessionListQuery,
  SessionPage,
  SessionRepositoryPort,
  UnchangedSinceQuery,
} from '../../application/ports/session.repository.port';
import { SessionTransitionPublisher } from '../../application/session-transition-publisher';
import { Session } from '../../domain/session';
import type { SessionTransitioned } from '../../domain/session-events';
import { FINAL_STATUSES, SessionStatus } from '../../domain/session-status';
import { SessionError, SessionErrorCode } from '../../domain/session.errors';
import { SessionMapper } from './session.mapper';
import { SessionEventOrmEntity, SessionOrmEntity } from './session.orm-entity';

/** Columns the version-checked update writes: everything but identity and bookkeeping. */
type WritableColumns = Omit<SessionOrmEntity, 'id' | 'version' | 'createdAt' | 'updatedAt'>;

@Injectable()
export class TypeormSessionRepository implements SessionRepositoryPort {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Optional() private readonly transitions: SessionTransitionPublisher = new SessionTransitionPublisher(),
  ) {}

  /** Like update(): the write commits, then the session's transitions are published. */
  async insert(session: Session): Promise<void> {
    const events = await this.dataSource.transaction(async (em) => {
      await em.insert(SessionOrmEntity, SessionMapper.toRow(session) as QueryDeepPartialEntity<SessionOrmEntity>);
      return this.appendEvents(em, session.pullEvents(session.version));
    });
    this.transitions.publish(events);
  }

  async update(session: Session): Promise<void> {
    const { id, version, createdAt: _c, updatedAt: _u, ...columns } = SessionMapper.toRow(session);
    const { newVersion, events } = await this.dataSource.transaction(async (em) => {
      // TypeORM's save() does not compare @VersionColumn: the WHERE clause does it here,
      // and the update builder increments version itself.
      const result = await em
        .createQueryBuilder()
        .update(SessionOrmEntity)
        .set(columns as QueryDeepPartialEntity<WritableColumns>)
        .where('id = :id AND version = :version AND deleted_at IS NULL', { id, version })
        .returning(['version'])
        .execute();
      if (!result.affected) throw SessionError.versionConflict(id, version);
      const committed = Number((result.raw as Array<{ version: number }>)[0].version);
      return { newVersion: committed, events: await this.appendEvents(em, session.pullEvents(committed)) };
    });
    session.persisted(newVersion);
    this.transitions.publish(events);
  }

  /**
   * The hottest read (every GET of a session, every step of a worker): one named prepared
   * statement on the driver's pool, columns aliased to the entity's property names, instead of
   * building a query through TypeORM each time (it tripled the cost of `GET /sessions/:id`).
   */
  async findById(id: string, options: { includeDeleted?: boolean } = {}): Promise<Session | null> {
    const deleted = options.includeDeleted ?? false;
    const text = `SELECT ${this.columns()} FROM sessions WHERE id = $1${deleted ? '' : ' AND deleted_at IS NULL'}`;
    const pool = (this.dataSource.driver as PostgresDriver).master as Pool;
    const { rows } = await pool.query<SessionOrmEntity>({ name: deleted ? 'session_by_id_any' : 'session_by_id', text, values: [id] });
    return rows[0] ? SessionMapper.toDomain(rows[0]) : null;
  }

  private selectList?: string;

  private columns(): string {
    this.selectList ??= this.dataSource
      .getMetadata(SessionOrmEntity)
      .columns.map((c) => `"${c.databaseName}" AS "${c.propertyName}"`)
      .join(', ');
    return this.selectList;
  }

  async list(query: SessionListQuery): Promise<SessionPage> {
    const qb = this.dataSource
      .getRepository(SessionOrmEntity)
      .createQueryBuilder('s')
      .orderBy('s.created_at', 'DESC')
      .addOrderBy('s.id', 'DESC')
      .limit(query.limit + 1);
    if (query.status) qb.andWhere('s.status = :status', { status: query.status });
    if (query.cursor) {
      const { createdAt, id } = decodeCursor(query.cursor);
      qb.andWhere('(s.created_at, s.id) < (:createdAt, :id)', { createdAt, id });
    }
    const rows = await qb.getMany();
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      items: page.map(SessionMapper.toDomain),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.createdAt, last.id) : null,
    };
  }

  async events(sessionId: string): Promise<SessionEventRecord[]> {
    const rows = await this.dataSource
      .getRepository(SessionEventOrmEntity)
      .find({ where: { sessionId }, order: { id: 'ASC' } });
    return rows.map((r) => ({
      id: String(r.id),
      sessionId: r.sessionId,
      from: r.from as SessionStatus | null,
      to: r.to as SessionStatus,
      reason: r.reason,
      attempt: r.attempt,
      at: r.at,
    }));
  }

  /**
   * Keyset paging on (updated_at, id). updated_at is kept in µs but a cursor's Date in ms: keys are
   * compared (and ordered) at ms precision, so that the row a page ended on is not read again.
   */
  async findUnchangedSince(query: UnchangedSinceQuery): Promise<Session[]> {
    const at = `date_trunc('milliseconds', s.updated_at)`;
    const qb = this.dataSource
      .getRepository(SessionOrmEntity)
      .createQueryBuilder('s')
      .where('s.status = :status', { status: query.status })
      .andWhere('s.updated_at < :before', { before: query.before })
      .orderBy(at, 'ASC')
      .addOrderBy('s.id', 'ASC')
      .limit(query.limit);
    if (query.after) qb.andWhere(`(${at}, s.id) > (:afterAt, :afterId)`, { afterAt: query.after.updatedAt, afterId: query.after.id });
    return (await qb.getMany()).map(SessionMapper.toDomain);
  }

  async activeBranches(repository: string): Promise<string[]> {
    const rows: Array<{ branch: string }> = await this.dataSource.query(
      `SELECT worktree->>'branch' AS branch FROM sessions
        WHERE deleted_at IS NULL AND (worktree->>'state') = 'ACTIVE' AND worktree->>'repository' = $1`,
      [repository],
    );
    return rows.map((r) => r.branch);
  }

  async worktreeRepositories(): Promise<string[]> {
    const rows: Array<{ repository: string }> = await this.dataSource.query(
      `SELECT DISTINCT worktree->>'repository' AS repository FROM sessions WHERE (worktree->>'state') = 'ACTIVE'`,
    );
    return rows.map((r) => r.repository);
  }

  async findWorktreesToExpire(before: Date, limit: number): Promise<Session[]> {
    const rows = await this.dataSource
      .getRepository(SessionOrmEntity)
      .createQueryBuilder('s')
      .where(`(s.worktree->>'state') = 'ACTIVE'`)
      .andWhere('s.finished_at < :before', { before })
      .andWhere('s.status NOT IN (:...live)', { live: [SessionStatus.QUEUED, SessionStatus.RUNNING] })
      .orderBy('s.finished_at', 'ASC', 'NULLS FIRST')
      .take(limit)
      .getMany();
    return rows.map(SessionMapper.toDomain);
  }

  async pruneFinished(before: Date, limit: number, now: Date): Promise<number> {
    // One statement, so one short transaction. The status list is written out (constants, not
    // parameters) so that the planner matches idx_sessions_prunable, which has the same predicate.
    // TypeORM answers an UPDATE with [rows, affected].
    const [, pruned]: [unknown[], number] = await this.dataSource.query(
      `UPDATE sessions SET
              result = CASE WHEN result IS NULL THEN NULL ELSE jsonb_set(result, '{summary}', '""'::jsonb) END,
              pruned_at = $3, updated_at = $3, version = version + 1
        WHERE id IN (
          SELECT id FROM sessions
           WHERE pruned_at IS NULL AND status IN (${FINAL_STATUS_LIST}) AND finished_at < $1
           ORDER BY finished_at, id
           LIMIT $2
           FOR UPDATE SKIP LOCKED)`,
      [before, limit, now],
    );
    return pruned;
  }

  async findUnfinished(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM sessions WHERE id = ANY($1::uuid[]) AND status NOT IN (${FINAL_STATUS_LIST})`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  async findToStop(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const live = [SessionStatus.QUEUED, SessionStatus.RUNNING];
    const rows = await this.dataSource.getRepository(SessionOrmEntity).find({
      select: { id: true },
      where: [
        { id: In(ids), cancelRequestedAt: Not(IsNull()) },
        { id: In(ids), status: Not(In(live)) },
        { id: In(ids), deletedAt: Not(IsNull()) },
      ],
      withDeleted: true,
    });
    return rows.map((r) => r.id);
  }

  /** The history rows of the events, in the write's transaction. */
  private async appendEvents(em: EntityManager, events: SessionTransitioned[]): Promise<SessionTransitioned[]> {
    if (events.length === 0) return events;
    await em.insert(
      SessionEventOrmEntity,
      events.map(({ sessionId, from, to, reason, attempt, at }) => ({ sessionId, from, to, reason, attempt, at })),
    );
    return events;
  }
}

/** The final statuses as an SQL list: enum constants, safe to write into a statement. */
const FINAL_STATUS_LIST = FINAL_STATUSES.map((status) => `'${status}'`).join(',');

function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  const [iso, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(iso ?? '');
  if (!id || Number.isNaN(createdAt.getTime()) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new SessionError(SessionErrorCode.INVALID_CURSOR, 'cursor is not a cursor returned by this API', {
      cursor,
    });
  }
  return { createdAt, id };
}

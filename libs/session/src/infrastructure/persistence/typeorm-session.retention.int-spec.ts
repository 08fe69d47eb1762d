import { makeTempWorkspace } from '@app/testing';
import { ZERO_USAGE } from '@app/shared';
import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { Session } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';
import { TypeormSessionRepository } from './typeorm-session.repository';

const DAY = 24 * 3600_000;
const NOW = new Date();
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const CUTOFF = daysAgo(30);

describe('TypeormSessionRepository retention (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormSessionRepository;
  const workspace = makeTempWorkspace();

  const create = (at: Date) => Session.create({ title: 't', prompt: 'the prompt', workspace, opencodeAgent: 'build', timeoutSeconds: 60 }, at);

  /** A session that ran and ended `how` at `at` (its whole history recorded), stored. */
  async function ended(how: SessionStatus, at: Date, options: { deleted?: boolean } = {}): Promise<Session> {
    const s = create(at);
    s.queue(at);
    s.markRunning(at);
    const partial = { summary: `the answer of a ${how} session`, filesChanged: ['src/a.ts'] };
    const usage = { ...ZERO_USAGE, inputTokens: 100, costUsd: 0.25 };
    if (how === SessionStatus.COMPLETED) s.complete(partial, usage, at);
    else if (how === SessionStatus.FAILED) s.fail({ code: 'OPENCODE_ERROR', message: 'it broke' }, usage, at, partial);
    else if (how === SessionStatus.TIMED_OUT) s.timeOut(usage, at, partial);
    else s.cancel('cancelled by user', usage, at, partial);
    if (options.deleted) s.softDelete(at);
    await repo.insert(s);
    return s;
  }

  async function stored(id: string) {
    const [row] = await dataSource.query(`SELECT status, result, usage, error, prompt, pruned_at, version, finished_at FROM sessions WHERE id = $1`, [id]);
    return row as { status: string; result: unknown; usage: unknown; error: unknown; prompt: string; pruned_at: Date | null; version: number; finished_at: Date | null };
  }

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormSessionRepository(dataSource);
  });
  afterAll(() => dataSource.destroy());
  beforeEach(async () => {
    // session_events is append-only (a trigger refuses DELETE): each test adds its own sessions and counts only those.
    await dataSource.query(`UPDATE sessions SET pruned_at = now() WHERE pruned_at IS NULL`);
  });

  it('empties the output text of finished sessions older than the cutoff, oldest first, in batches of N; newer and unfinished ones untouched; transitions kept', async () => {
    const old = [
      await ended(SessionStatus.COMPLETED, daysAgo(90)),
      await ended(SessionStatus.FAILED, daysAgo(80)),
      await ended(SessionStatus.TIMED_OUT, daysAgo(70)),
      await ended(SessionStatus.CANCELLED, daysAgo(60), { deleted: true }),
      await ended(SessionStatus.COMPLETED, daysAgo(31)),
    ];
    const recent = await ended(SessionStatus.COMPLETED, daysAgo(29));
    const running = create(daysAgo(100));
    running.queue(daysAgo(100));
    running.markRunning(daysAgo(100));
    await repo.insert(running);
    const pending = create(daysAgo(100));
    await repo.insert(pending);
    const historyBefore = await Promise.all(old.map((s) => repo.events(s.id)));

    expect(await repo.pruneFinished(CUTOFF, 2, NOW)).toBe(2);
    expect((await stored(old[0].id)).pruned_at).toEqual(NOW);
    expect((await stored(old[1].id)).pruned_at).toEqual(NOW);
    expect((await stored(old[2].id)).pruned_at).toBeNull(); // oldest first
    expect(await repo.pruneFinished(CUTOFF, 2, NOW)).toBe(2);
    expect(await repo.pruneFinished(CUTOFF, 2, NOW)).toBe(1);
    expect(await repo.pruneFinished(CUTOFF, 2, NOW)).toBe(0);

    for (const [i, s] of old.entries()) {
      const row = await stored(s.id);
      expect(row).toMatchObject({
        status: s.status,
        result: { summary: '', filesChanged: ['src/a.ts'] },
        usage: { inputTokens: 100, costUsd: 0.25 },
        prompt: 'the prompt',
        pruned_at: NOW,
        version: s.version + 1,
      });
      expect(row.error).toEqual(s.snapshot().error);
      expect(await repo.events(s.id)).toEqual(historyBefore[i]);
    }
    expect(await stored(recent.id)).toMatchObject({ result: { summary: 'the answer of a COMPLETED session' }, pruned_at: null, version: recent.version });
    expect(await stored(running.id)).toMatchObject({ status: 'RUNNING', pruned_at: null, version: running.version });
    expect(await stored(pending.id)).toMatchObject({ status: 'PENDING', pruned_at: null, version: pending.version });

    // The domain reads it back pruned; the API shows prunedAt.
    const loaded = (await repo.findById(old[0].id))!.snapshot();
    expect(loaded).toMatchObject({ prunedAt: NOW, result: { summary: '', filesChanged: ['src/a.ts'] } });
    expect((await repo.findById(old[3].id, { includeDeleted: true }))!.snapshot().prunedAt).toEqual(NOW);
  });

  it('moves the version on, so a writer holding the row from before gets VERSION_CONFLICT and writes nothing', async () => {
    const s = await ended(SessionStatus.FAILED, daysAgo(40));
    const held = (await repo.findById(s.id))!;
    expect(await repo.pruneFinished(CUTOFF, 10, NOW)).toBe(1);
    held.edit({ title: 'renamed' });
    await expect(repo.update(held)).rejects.toMatchObject({ code: 'VERSION_CONFLICT' });
    const fresh = (await repo.findById(s.id))!;
    fresh.retry(NOW);
    await repo.update(fresh);
    // A retried session starts clean: not pruned, and pruned again once its new attempt is old enough.
    expect(await stored(s.id)).toMatchObject({ status: 'QUEUED', result: null, pruned_at: null });
  });

  it('skips a row another transaction holds, and takes it in a later batch', async () => {
    const held = await ended(SessionStatus.COMPLETED, daysAgo(50));
    const free = await ended(SessionStatus.COMPLETED, daysAgo(45));
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query(`SELECT id FROM sessions WHERE id = $1 FOR UPDATE`, [held.id]);
      expect(await repo.pruneFinished(CUTOFF, 10, NOW)).toBe(1);
      expect((await stored(free.id)).pruned_at).toEqual(NOW);
      expect((await stored(held.id)).pruned_at).toBeNull();
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await repo.pruneFinished(CUTOFF, 10, NOW)).toBe(1);
    expect((await stored(held.id)).pruned_at).toEqual(NOW);
  });

  it('walks idx_sessions_prunable to find the batch', async () => {
    const issued: Array<[string, unknown[]]> = [];
    const query = jest.spyOn(dataSource, 'query').mockImplementation(async (sql: string, params?: unknown[]) => {
      issued.push([sql, params ?? []]);
      return [[], 0];
    });
    await repo.pruneFinished(CUTOFF, 10, NOW);
    query.mockRestore();
    expect(issued).toHaveLength(1);
    const [sql, params] = issued[0];
    const plan = await dataSource.transaction(async (em) => {
      await em.query(`SET LOCAL enable_seqscan = off`);
      const rows: Array<{ 'QUERY PLAN': string }> = await em.query(`EXPLAIN ${sql}`, params);
      return rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    expect(plan).toContain('idx_sessions_prunable');
  });

  it('lists which sessions are not finished yet, deleted ones included, unknown ids left out', async () => {
    const done = await ended(SessionStatus.COMPLETED, daysAgo(1));
    const queued = create(NOW);
    queued.queue(NOW);
    queued.softDelete(NOW);
    await repo.insert(queued);
    const pending = create(NOW);
    await repo.insert(pending);
    const unknown = '00000000-0000-4000-8000-00000000abcd';
    expect((await repo.findUnfinished([done.id, queued.id, pending.id, unknown])).sort()).toEqual([queued.id, pending.id].sort());
    expect(await repo.findUnfinished([])).toEqual([]);
  });
});

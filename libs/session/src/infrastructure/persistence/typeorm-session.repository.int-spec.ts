import { makeTempWorkspace } from '@app/testing';
import { openTestDataSource } from '../../../../../test/support/database';
import { DataSource } from 'typeorm';
import { Session } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';
import { newSessionWorktree } from '../../domain/session-worktree';
import { ZERO_USAGE } from '@app/shared';
import { SessionError, SessionErrorCode } from '../../domain/session.errors';
import { SessionTransitionPublisher } from '../../application/session-transition-publisher';
import { TypeormSessionRepository } from './typeorm-session.repository';

describe('TypeormSessionRepository (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormSessionRepository;
  const workspace = makeTempWorkspace();
  const tag = `repo-int-${Date.now()}`;

  const newSession = (title = 'a session') =>
    Session.create({ title, prompt: 'p', workspace, opencodeAgent: 'build', timeoutSeconds: 60, metadata: { tag } });

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormSessionRepository(dataSource);
  });
  afterAll(() => dataSource.destroy());

  it('stores and reads a session with its creation event', async () => {
    const s = newSession();
    await repo.insert(s);
    const loaded = await repo.findById(s.id);
    expect(loaded?.snapshot()).toMatchObject({ id: s.id, status: SessionStatus.PENDING, version: 1, metadata: { tag } });
    expect(await repo.events(s.id)).toEqual([expect.objectContaining({ from: null, to: SessionStatus.PENDING })]);
  });

  it('increments the version on every update and appends events in order', async () => {
    const s = newSession();
    await repo.insert(s);
    s.queue();
    await repo.update(s);
    expect(s.version).toBe(2);
    s.markRunning();
    await repo.update(s);
    expect(s.version).toBe(3);
    expect((await repo.findById(s.id))?.version).toBe(3);
    expect((await repo.events(s.id)).map((e) => e.to)).toEqual([
      SessionStatus.PENDING,
      SessionStatus.QUEUED,
      SessionStatus.RUNNING,
    ]);
  });

  it('stores and reads the origin of a session a plan made, and of one made through the API', async () => {
    const planId = '0b7d3f4e-5c1a-4e2b-9f00-2a6c8d1e4b71';
    const retryOf = '9c1e2d3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f';
    const task = Session.create({ title: 't', prompt: 'p', workspace, opencodeAgent: 'build', timeoutSeconds: 60, origin: { kind: 'plan', planId, taskKey: 'implA', retryOf } });
    await repo.insert(task);
    const plain = newSession();
    await repo.insert(plain);
    expect((await repo.findById(task.id))?.snapshot()).toMatchObject({ origin: { kind: 'plan', planId, taskKey: 'implA', retryOf }, metadata: {} });
    expect((await repo.findById(plain.id))?.snapshot().origin).toEqual({ kind: 'api' });
    const [row] = await dataSource.query('SELECT origin_plan_id, origin_task_key, origin_retry_of FROM sessions WHERE id = $1', [task.id]);
    expect(row).toEqual({ origin_plan_id: planId, origin_task_key: 'implA', origin_retry_of: retryOf });
  });

  it('publishes committed transitions only, after the write, with the committed version and the origin', async () => {
    const publisher = new SessionTransitionPublisher();
    const seen: Array<[string, string, number, string]> = [];
    publisher.observe((e) => seen.push([e.sessionId, e.to, e.session.version, e.origin.kind]));
    const observed = new TypeormSessionRepository(dataSource, publisher);
    const s = newSession();
    await observed.insert(s);
    s.queue();
    await observed.update(s);
    s.edit({ title: 'no transition' });
    await observed.update(s);
    const stale = (await observed.findById(s.id))!;
    s.markRunning();
    await observed.update(s);
    stale.cancel('too late');
    await expect(observed.update(stale)).rejects.toMatchObject({ code: SessionErrorCode.VERSION_CONFLICT });
    expect(seen).toEqual([
      [s.id, SessionStatus.PENDING, 1, 'api'],
      [s.id, SessionStatus.QUEUED, 2, 'api'],
      [s.id, SessionStatus.RUNNING, 4, 'api'],
    ]);
  });

  it('lets exactly one of two concurrent writers of the same version win; the loser writes nothing', async () => {
    const s = newSession();
    await repo.insert(s);
    const a = (await repo.findById(s.id))!;
    const b = (await repo.findById(s.id))!;
    a.queue();
    b.cancel('by writer b');
    const results = await Promise.allSettled([repo.update(a), repo.update(b)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(SessionError);
    expect((lost[0].reason as SessionError).code).toBe(SessionErrorCode.VERSION_CONFLICT);
    const stored = (await repo.findById(s.id))!;
    expect(stored.version).toBe(2);
    const events = await repo.events(s.id);
    // Only the winner's transition was appended.
    expect(events).toHaveLength(2);
    expect(events[1].to).toBe(stored.status);
  });

  describe('a failover: the failed attempt and the next one in one write', () => {
    const lost = { code: 'OPENCODE_UNAVAILABLE', message: 'the OpenCode server was lost' };
    async function running(): Promise<Session> {
      const s = newSession();
      await repo.insert(s);
      s.queue();
      await repo.update(s);
      s.markRunning();
      await repo.update(s);
      return s;
    }
    const failOver = (s: Session) => {
      s.fail(lost, { ...ZERO_USAGE, inputTokens: 5 });
      s.retry(new Date(), 'failover after its OpenCode server was lost');
    };
    const historyOf = async (id: string) => (await repo.events(id)).map((e) => `${e.from ?? '-'}>${e.to}#${e.attempt}`);

    it('stores RUNNING → FAILED → QUEUED as one version: the row goes from RUNNING to the next attempt, the history keeps both', async () => {
      const s = await running();
      failOver(s);
      await repo.update(s);
      expect(s.version).toBe(4);
      expect((await repo.findById(s.id))?.snapshot()).toMatchObject({ status: SessionStatus.QUEUED, attempt: 2, version: 4, error: null, usage: null });
      expect(await historyOf(s.id)).toEqual(['->PENDING#1', 'PENDING>QUEUED#1', 'QUEUED>RUNNING#1', 'RUNNING>FAILED#1', 'FAILED>QUEUED#2']);
    });

    it('rolls the failure back with the next attempt when the next attempt cannot be written (and writes neither on a stale version)', async () => {
      const s = await running();
      // The database refuses the second transition's history row only: the whole write must go.
      const refuse = `refuse_failover_${s.id.replace(/-/g, '')}`;
      await dataSource.query(`CREATE FUNCTION ${refuse}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'next attempt refused'; END $$`);
      await dataSource.query(
        `CREATE TRIGGER ${refuse} BEFORE INSERT ON session_events FOR EACH ROW WHEN (NEW.session_id = '${s.id}' AND NEW.to_status = 'QUEUED' AND NEW.attempt = 2) EXECUTE FUNCTION ${refuse}()`,
      );
      try {
        failOver(s);
        await expect(repo.update(s)).rejects.toThrow(/next attempt refused/);
      } finally {
        await dataSource.query(`DROP TRIGGER ${refuse} ON session_events`);
        await dataSource.query(`DROP FUNCTION ${refuse}()`);
      }
      expect((await repo.findById(s.id))?.snapshot()).toMatchObject({ status: SessionStatus.RUNNING, attempt: 1, version: 3, error: null });
      expect(await historyOf(s.id)).toEqual(['->PENDING#1', 'PENDING>QUEUED#1', 'QUEUED>RUNNING#1']);

      const stale = (await repo.findById(s.id))!;
      const fresh = (await repo.findById(s.id))!;
      fresh.requestCancel();
      await repo.update(fresh);
      failOver(stale);
      await expect(repo.update(stale)).rejects.toMatchObject({ code: SessionErrorCode.VERSION_CONFLICT });
      expect((await repo.findById(s.id))?.snapshot()).toMatchObject({ status: SessionStatus.RUNNING, attempt: 1, version: 4 });
      expect(await historyOf(s.id)).toEqual(['->PENDING#1', 'PENDING>QUEUED#1', 'QUEUED>RUNNING#1']);
    });
  });

  it('refuses a stale write made from an old read', async () => {
    const s = newSession();
    await repo.insert(s);
    const stale = (await repo.findById(s.id))!;
    s.edit({ title: 'fresh' });
    await repo.update(s);
    stale.edit({ title: 'stale' });
    await expect(repo.update(stale)).rejects.toMatchObject({ code: SessionErrorCode.VERSION_CONFLICT });
    expect((await repo.findById(s.id))?.snapshot().title).toBe('fresh');
  });

  it('soft-deletes: hidden from reads and lists, the row stays', async () => {
    const s = newSession();
    await repo.insert(s);
    s.softDelete();
    await repo.update(s);
    expect(await repo.findById(s.id)).toBeNull();
    expect((await repo.findById(s.id, { includeDeleted: true }))?.isDeleted).toBe(true);
    const [row] = await dataSource.query('SELECT deleted_at FROM sessions WHERE id = $1', [s.id]);
    expect(row.deleted_at).toBeInstanceOf(Date);
    const page = await repo.list({ limit: 200 });
    expect(page.items.map((x) => x.id)).not.toContain(s.id);
    // A deleted session cannot be written again.
    s.edit({ title: 'after delete' });
    await expect(repo.update(s)).rejects.toMatchObject({ code: SessionErrorCode.VERSION_CONFLICT });
  });

  it('keeps session_events append-only at the database level', async () => {
    const s = newSession();
    await repo.insert(s);
    await expect(dataSource.query('UPDATE session_events SET reason = $1 WHERE session_id = $2', ['x', s.id])).rejects.toThrow(
      /append-only/,
    );
    await expect(dataSource.query('DELETE FROM session_events WHERE session_id = $1', [s.id])).rejects.toThrow(/append-only/);
  });

  it('pages newest first by cursor, filtered by status, without gaps or repeats', async () => {
    const created: Session[] = [];
    for (let i = 0; i < 5; i++) {
      const s = newSession(`page ${i}`);
      await repo.insert(s);
      created.push(s);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await repo.list({ limit: 2, cursor, status: SessionStatus.PENDING });
      seen.push(...page.items.map((x) => x.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const ours = seen.filter((id) => created.some((c) => c.id === id));
    expect(ours).toEqual(created.map((c) => c.id).reverse());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('pages sessions unchanged since a date by (updatedAt, id), each once, even rows a microsecond apart in one millisecond', async () => {
    const queued: Session[] = [];
    for (let i = 0; i < 7; i++) {
      const s = newSession(`stale ${i}`);
      await repo.insert(s);
      s.queue();
      await repo.update(s);
      queued.push(s);
    }
    const running = newSession('stale running');
    await repo.insert(running);
    running.queue();
    running.markRunning();
    await repo.update(running);
    const deleted = queued.pop()!;
    deleted.softDelete();
    await repo.update(deleted);
    // Five rows in one millisecond (µs apart), one a millisecond later; the running one and the deleted one as old.
    const at = (us: number) => `2020-01-01T00:00:00.${String(123000 + us).padStart(6, '0')}Z`;
    for (const [i, s] of queued.entries()) {
      await dataSource.query(`UPDATE sessions SET updated_at = $1 WHERE id = $2`, [at(i < 5 ? 400 - i * 50 : 1000), s.id]);
    }
    await dataSource.query(`UPDATE sessions SET updated_at = $1 WHERE id = ANY($2)`, [at(0), [running.id, deleted.id]]);
    const before = new Date('2020-01-02T00:00:00Z');

    const seen: string[] = [];
    let after: { updatedAt: Date; id: string } | undefined;
    for (let page = 0; page < 10; page++) {
      const got = await repo.findUnchangedSince({ status: SessionStatus.QUEUED, before, limit: 2, after });
      seen.push(...got.map((s) => s.id));
      if (got.length < 2) break;
      const last = got[got.length - 1];
      after = { updatedAt: last.snapshot().updatedAt, id: last.id };
    }
    const sameMs = queued.slice(0, 5).map((s) => s.id).sort();
    expect(seen).toEqual([...sameMs, queued[5].id]);
    expect(await repo.findUnchangedSince({ status: SessionStatus.RUNNING, before, limit: 10 })).toEqual([expect.objectContaining({ id: running.id })]);
    expect(await repo.findUnchangedSince({ status: SessionStatus.QUEUED, before: new Date('2020-01-01T00:00:00.123Z'), limit: 10 })).toEqual([]);
  });

  it('stores when a queued session started to wait for its place, and forgets it once it runs', async () => {
    const s = newSession();
    await repo.insert(s);
    s.queue();
    const since = new Date('2026-01-01T00:00:00.000Z');
    s.waitForPlace(since);
    await repo.update(s);
    expect((await repo.findById(s.id))?.snapshot().waitingSince).toEqual(since);
    s.markRunning();
    await repo.update(s);
    expect((await repo.findById(s.id))?.snapshot().waitingSince).toBeNull();
  });

  it('refuses a forged cursor', async () => {
    await expect(repo.list({ limit: 2, cursor: 'bm9wZQ' })).rejects.toMatchObject({ code: SessionErrorCode.INVALID_CURSOR });
  });

  describe('worktrees', () => {
    const repository = `/repos/${tag}`;
    const isolated = (title: string) =>
      Session.create({
        title,
        prompt: 'p',
        workspace,
        opencodeAgent: 'build',
        timeoutSeconds: 60,
        worktree: newSessionWorktree({ repository, subdirectory: 'pkg', branch: `orchestrator/${title}`, baseRef: 'main', baseCommit: 'a'.repeat(40) }),
      });
    const finish = async (s: Session, finishedAt: Date) => {
      s.queue(finishedAt);
      await repo.update(s);
      s.markRunning(finishedAt);
      s.useSlot('/w/slot-0', finishedAt);
      await repo.update(s);
      s.recordChanges({ headCommit: 'b'.repeat(40), files: ['pkg/a.ts'], insertions: 2, deletions: 0 }, finishedAt);
      s.complete({ summary: 'ok', filesChanged: ['pkg/a.ts'] }, ZERO_USAGE, finishedAt);
      await repo.update(s);
    };

    it('stores the isolation and the worktree, the merge date included', async () => {
      const s = isolated('stored');
      await repo.insert(s);
      await finish(s, new Date());
      const at = new Date('2026-01-02T03:04:05.000Z');
      s.recordMerged({ target: 'main', strategy: 'rebase', commit: 'c'.repeat(40), at });
      await repo.update(s);
      const loaded = (await repo.findById(s.id))!.snapshot();
      expect(loaded.isolation).toBe('worktree');
      expect(loaded.worktree).toEqual({ ...s.snapshot().worktree, merge: { target: 'main', strategy: 'rebase', commit: 'c'.repeat(40), at } });
      expect(loaded.worktree?.merge?.at).toBeInstanceOf(Date);
      await expect(dataSource.query(`UPDATE sessions SET isolation = 'shared' WHERE id = $1`, [s.id])).rejects.toThrow(/ck_sessions_isolation/);
    });

    it('lists the branches sessions hold, their repositories, and the finished ones to expire', async () => {
      const old = isolated('old');
      const fresh = isolated('fresh');
      const running = isolated('running');
      const deleted = isolated('deleted');
      for (const s of [old, fresh, running, deleted]) await repo.insert(s);
      await finish(old, new Date('2026-01-01T00:00:00Z'));
      await finish(fresh, new Date());
      running.queue();
      await repo.update(running);
      await finish(deleted, new Date('2026-01-01T00:00:00Z'));
      deleted.softDelete();
      await repo.update(deleted);

      const held = await repo.activeBranches(repository);
      expect(held).toEqual(expect.arrayContaining(['orchestrator/old', 'orchestrator/fresh', 'orchestrator/running']));
      expect(held).not.toContain('orchestrator/deleted');
      expect(await repo.worktreeRepositories()).toContain(repository);
      const due = (await repo.findWorktreesToExpire(new Date('2026-01-02T00:00:00Z'), 100)).map((s) => s.id);
      expect(due).toContain(old.id);
      expect(due).not.toContain(fresh.id);
      expect(due).not.toContain(running.id);
      expect(due).not.toContain(deleted.id); // its branch is an orphan: the janitor deletes it with the others
    });
  });
});

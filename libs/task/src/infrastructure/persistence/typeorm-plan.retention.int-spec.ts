import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { analyseComplexity } from '../../domain/complexity';
import { analysePlan } from '../../domain/dag';
import { Plan, PlanTask } from '../../domain/plan';
import { PlanStatus } from '../../domain/plan-status';
import { TypeormPlanRepository } from './typeorm-plan.repository';
import { taskSpec } from '@app/task/testing';

const DAY = 24 * 3600_000;
const NOW = new Date();
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const CUTOFF = daysAgo(30);


describe('TypeormPlanRepository retention (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormPlanRepository;
  let sessionNumber = 0;
  const nextSessionId = () => `00000000-0000-4000-8000-${String(++sessionNumber).padStart(12, '0')}`;

  /**
   * A plan of two tasks stored as it is once `how` happened at `at`: each task ran a session (a
   * retry too for task a) and completed, then the plan finished; a cancel that has not reached
   * task b yet (`liveTask`); or a DRAFT, deleted or not.
   */
  async function plan(how: 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DRAFT' | 'DELETED_DRAFT' | 'RUNNING', at: Date, options: { liveTask?: boolean; deleted?: boolean } = {}) {
    const specs = [taskSpec('a'), taskSpec('b', ['a'])];
    const p = Plan.create(
      { requirement: 'r', workspace: '/tmp', template: null, chosenBecause: 'given', complexity: analyseComplexity('r'), analysis: analysePlan(specs, { agents: 2 }), maxParallelTasks: 2 },
      at,
    );
    const tasks = specs.map((s, i) => PlanTask.create(p.id, s, i, at));
    const sessionIds: string[] = [];
    if (how === 'DELETED_DRAFT') p.softDelete(at);
    if (how !== 'DRAFT' && how !== 'DELETED_DRAFT') {
      p.start(null, at);
      for (const t of tasks) {
        const kinds = t.key === 'a' ? (['TASK', 'DEBUG_RETRY'] as const) : (['TASK'] as const);
        for (const kind of kinds) {
          const sessionId = nextSessionId();
          sessionIds.push(sessionId);
          t.attachSession({ sessionId, kind, role: 'IMPLEMENTER', agentId: null, createdAt: at }, at);
        }
        if (!(options.liveTask && t.key === 'b')) t.complete({ summary: 'done', filesChanged: [] }, null, at);
      }
      if (how === 'CANCELLED') p.cancel(at);
      else if (how === 'FAILED') p.finish(PlanStatus.FAILED, { code: 'TASK_FAILED', message: 'x' }, at);
      else if (how === 'COMPLETED') p.finish(PlanStatus.COMPLETED, null, at);
      if (options.deleted) p.softDelete(at);
    }
    await repo.insert(p, tasks);
    return { id: p.id, sessionIds };
  }

  const count = async (sql: string, params: unknown[]) => Number((await dataSource.query(sql, params))[0].n);
  const exists = (id: string) => count(`SELECT count(*) AS n FROM plans WHERE id = $1`, [id]);
  const tasksOf = (id: string) => count(`SELECT count(*) AS n FROM plan_tasks WHERE plan_id = $1`, [id]);

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormPlanRepository(dataSource);
  });
  afterAll(() => dataSource.destroy());
  beforeEach(async () => {
    await dataSource.query(`DELETE FROM plan_tasks`);
    await dataSource.query(`DELETE FROM plans`);
  });

  it('finds the plans that may go, oldest first, in batches of N after a cursor, with every session of their tasks; newer and unfinished ones never', async () => {
    const old = [
      await plan('COMPLETED', daysAgo(90)),
      await plan('FAILED', daysAgo(80), { deleted: true }),
      await plan('CANCELLED', daysAgo(70)),
      await plan('DELETED_DRAFT', daysAgo(60)),
      await plan('COMPLETED', daysAgo(31)),
    ];
    await plan('COMPLETED', daysAgo(29));
    await plan('RUNNING', daysAgo(100), { liveTask: true });
    await plan('CANCELLED', daysAgo(100), { liveTask: true }); // its cancel has not reached task b yet
    await plan('DRAFT', daysAgo(100));

    const first = await repo.findPrunable(CUTOFF, 2, null);
    expect(first.map((p) => p.id)).toEqual([old[0].id, old[1].id]);
    expect(first[0].endedAt).toEqual(daysAgo(90));
    expect(first[0].sessionIds.sort()).toEqual([...old[0].sessionIds].sort());
    expect(first[0].sessionIds).toHaveLength(3);
    const second = await repo.findPrunable(CUTOFF, 2, first[1]);
    expect(second.map((p) => p.id)).toEqual([old[2].id, old[3].id]);
    expect(second[1]).toMatchObject({ endedAt: daysAgo(60), sessionIds: [] });
    const third = await repo.findPrunable(CUTOFF, 2, second[1]);
    expect(third.map((p) => p.id)).toEqual([old[4].id]);
    expect(await repo.findPrunable(CUTOFF, 2, third[0])).toEqual([]);
  });

  it('deletes the plans it is given with their tasks, in one transaction, only those that still may go', async () => {
    const gone = await plan('COMPLETED', daysAgo(90));
    const alsoGone = await plan('DELETED_DRAFT', daysAgo(90));
    const recent = await plan('COMPLETED', daysAgo(10));
    const live = await plan('CANCELLED', daysAgo(90), { liveTask: true });
    const running = await plan('RUNNING', daysAgo(90));
    expect(await tasksOf(gone.id)).toBe(2);

    expect(await repo.deletePrunable([gone.id, alsoGone.id, recent.id, live.id, running.id], CUTOFF)).toEqual({ plans: 2, tasks: 4 });
    expect([await exists(gone.id), await tasksOf(gone.id), await exists(alsoGone.id), await tasksOf(alsoGone.id)]).toEqual([0, 0, 0, 0]);
    for (const kept of [recent, live, running]) {
      expect(await exists(kept.id)).toBe(1);
      expect(await tasksOf(kept.id)).toBe(2);
    }
    expect(await repo.deletePrunable([], CUTOFF)).toEqual({ plans: 0, tasks: 0 });
  });

  it('leaves a plan another transaction holds for a later run', async () => {
    const held = await plan('FAILED', daysAgo(90));
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    try {
      await runner.query(`SELECT id FROM plans WHERE id = $1 FOR UPDATE`, [held.id]);
      expect(await repo.deletePrunable([held.id], CUTOFF)).toEqual({ plans: 0, tasks: 0 });
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
    expect(await exists(held.id)).toBe(1);
    expect(await repo.deletePrunable([held.id], CUTOFF)).toEqual({ plans: 1, tasks: 2 });
  });

  it('walks idx_plans_prunable to find the batch, first and after a cursor', async () => {
    const issued: Array<[string, unknown[]]> = [];
    const query = jest.spyOn(dataSource, 'query').mockImplementation(async (sql: string, params?: unknown[]) => {
      issued.push([sql, params ?? []]);
      return [];
    });
    await repo.findPrunable(CUTOFF, 10, null);
    await repo.findPrunable(CUTOFF, 10, { endedAt: daysAgo(90), id: '00000000-0000-4000-8000-000000000001' });
    query.mockRestore();
    expect(issued).toHaveLength(2);
    for (const [sql, params] of issued) {
      const plan = await dataSource.transaction(async (em) => {
        await em.query(`SET LOCAL enable_seqscan = off`);
        const rows: Array<{ 'QUERY PLAN': string }> = await em.query(`EXPLAIN ${sql}`, params);
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
      expect(plan).toContain('idx_plans_prunable');
    }
  });
});

import { tmpdir } from 'node:os';
import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { analyseComplexity } from '../../domain/complexity';
import { analysePlan } from '../../domain/dag';
import { Plan, PlanTask } from '../../domain/plan';
import { PlanStatus, TaskStatus } from '../../domain/plan-status';
import { TypeormPlanRepository } from './typeorm-plan.repository';
import { taskSpec } from '@app/task/testing';


describe('TypeormPlanRepository (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormPlanRepository;

  const newPlan = () => {
    const specs = [taskSpec('a'), taskSpec('b', ['a'])];
    const plan = Plan.create({
      requirement: 'integration',
      workspace: tmpdir(),
      template: null,
      chosenBecause: 'given',
      complexity: analyseComplexity('integration'),
      analysis: analysePlan(specs, { agents: 2 }),
      maxParallelTasks: 2,
    });
    return { plan, tasks: specs.map((s, i) => PlanTask.create(plan.id, s, i)) };
  };

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormPlanRepository(dataSource);
  });
  afterAll(() => dataSource.destroy());

  it('stores a plan with its tasks and reads them back in order', async () => {
    const { plan, tasks } = newPlan();
    await repo.insert(plan, tasks);
    const loaded = (await repo.findById(plan.id))!.snapshot();
    expect(loaded).toMatchObject({ id: plan.id, status: PlanStatus.DRAFT, version: 1, template: null, maxParallelTasks: 2 });
    expect(loaded.analysis.criticalPath).toEqual(['a', 'b']);
    const stored = await repo.tasksOf(plan.id);
    expect(stored.map((t) => [t.key, t.status, t.version, t.dependsOn])).toEqual([
      ['a', TaskStatus.PENDING, 1, []],
      ['b', TaskStatus.PENDING, 1, ['a']],
    ]);
  });

  it('checks versions of plans and tasks: a stale writer gets PLAN_VERSION_CONFLICT and writes nothing', async () => {
    const { plan, tasks } = newPlan();
    await repo.insert(plan, tasks);
    const first = (await repo.findById(plan.id))!;
    const second = (await repo.findById(plan.id))!;
    first.start();
    await repo.updatePlan(first);
    expect(first.version).toBe(2);
    second.cancel();
    await expect(repo.updatePlan(second)).rejects.toMatchObject({ code: 'PLAN_VERSION_CONFLICT' });
    expect((await repo.findById(plan.id))!.status).toBe(PlanStatus.RUNNING);

    const [a1] = await repo.tasksOf(plan.id);
    const [a2] = await repo.tasksOf(plan.id);
    a1.attachSession({ sessionId: '00000000-0000-4000-8000-000000000001', kind: 'TASK', role: 'IMPLEMENTER', agentId: null, createdAt: new Date() });
    await repo.updateTask(a1);
    expect(a1.version).toBe(2);
    a2.end(TaskStatus.CANCELLED, { code: 'X', message: 'x' });
    await expect(repo.updateTask(a2)).rejects.toMatchObject({ code: 'PLAN_VERSION_CONFLICT' });
    const [stored] = await repo.tasksOf(plan.id);
    expect(stored.snapshot()).toMatchObject({ status: TaskStatus.RUNNING, sessionId: '00000000-0000-4000-8000-000000000001', attempt: 1, version: 2 });
    expect(stored.snapshot().sessions[0].createdAt).toBeInstanceOf(Date);
  });

  it('lists newest first, finds active plans, and soft-deletes', async () => {
    const one = newPlan();
    await repo.insert(one.plan, one.tasks);
    const two = newPlan();
    await repo.insert(two.plan, two.tasks);
    const listed = (await repo.list({ limit: 50 })).map((p) => p.id);
    expect(listed.indexOf(two.plan.id)).toBeLessThan(listed.indexOf(one.plan.id));

    const running = (await repo.findById(two.plan.id))!;
    running.start();
    await repo.updatePlan(running);
    expect(await repo.activePlanIds()).toContain(two.plan.id);
    expect(await repo.activePlanIds()).not.toContain(one.plan.id);
    expect((await repo.list({ limit: 50, status: PlanStatus.RUNNING })).map((p) => p.id)).toContain(two.plan.id);

    // A cancel that stopped before its tasks were cancelled stays active for the scheduler.
    running.cancel();
    await repo.updatePlan(running);
    expect(await repo.activePlanIds()).toContain(two.plan.id);

    const gone = (await repo.findById(one.plan.id))!;
    gone.softDelete();
    await repo.updatePlan(gone);
    expect(await repo.findById(one.plan.id)).toBeNull();
    expect((await repo.findById(one.plan.id, { includeDeleted: true }))?.snapshot().deletedAt).toBeInstanceOf(Date);
    expect((await repo.list({ limit: 50 })).map((p) => p.id)).not.toContain(one.plan.id);
    // A deleted plan takes no more writes.
    await expect(repo.updatePlan(gone)).rejects.toMatchObject({ code: 'PLAN_VERSION_CONFLICT' });
    // A RUNNING plan cannot be deleted.
    const r = newPlan();
    await repo.insert(r.plan, r.tasks);
    r.plan.start();
    expect(() => r.plan.softDelete()).toThrow(/cancel it first/);
  });

  it("stores a plan's integration branch and its tasks' way through the merge queue, new statuses included", async () => {
    const { plan, tasks } = newPlan();
    await repo.insert(plan, tasks);
    const running = (await repo.findById(plan.id))!;
    const branch = { name: 'orchestrator/plan-1234abcd', repository: tmpdir(), baseCommit: 'a'.repeat(40) };
    running.start(branch);
    await repo.updatePlan(running);
    expect((await repo.findById(plan.id))!.branch).toEqual(branch);

    const [a] = await repo.tasksOf(plan.id);
    a.attachSession({ sessionId: '00000000-0000-4000-8000-000000000001', kind: 'TASK', role: 'IMPLEMENTER', agentId: null, createdAt: new Date() });
    a.awaitMerge({ summary: 'done', filesChanged: ['a.ts'] }, null, new Date('2026-01-01T00:00:00Z'));
    a.conflicted(['a.ts']);
    a.attachSession({ sessionId: '00000000-0000-4000-8000-000000000002', kind: 'RESOLVER', role: 'DEBUGGER', agentId: null, createdAt: new Date() });
    await repo.updateTask(a);
    let [stored] = await repo.tasksOf(plan.id);
    expect(stored.snapshot()).toMatchObject({
      status: TaskStatus.RESOLVING,
      merge: { source: '00000000-0000-4000-8000-000000000001', queuedAt: new Date('2026-01-01T00:00:00Z'), conflicts: ['a.ts'], commit: null, mergedAt: null },
    });
    expect(stored.resolverTries).toBe(1);

    stored.end(TaskStatus.CONFLICTED, { code: 'MERGE_CONFLICT', message: 'a.ts' });
    await repo.updateTask(stored);
    [stored] = await repo.tasksOf(plan.id);
    expect(stored.status).toBe(TaskStatus.CONFLICTED);
  });
  it('round-trips a budget and a pause (PAUSED, BUDGET, message), ticks a PAUSED plan only while a task runs, and reads an agent\'s mean task complexity', async () => {
    const { plan, tasks } = newPlan();
    const withBudget = Plan.create({ ...plan.snapshot(), budget: { maxCostUsd: 0.5, maxTokens: 1000 } });
    const own = tasks.map((t, i) => PlanTask.create(withBudget.id, { ...t.spec, complexity: 2 + 4 * i }, i));
    await repo.insert(withBudget, own);
    expect((await repo.findById(withBudget.id))!.snapshot()).toMatchObject({ budget: { maxCostUsd: 0.5, maxTokens: 1000 }, pausedReason: null, pausedMessage: null });

    const loaded = (await repo.findById(withBudget.id))!;
    loaded.start();
    loaded.pause('BUDGET', "task b's forecast does not fit");
    await repo.updatePlan(loaded);
    expect((await repo.findById(withBudget.id))!.snapshot()).toMatchObject({ status: PlanStatus.PAUSED, pausedReason: 'BUDGET', pausedMessage: "task b's forecast does not fit" });
    expect(await repo.activePlanIds()).not.toContain(withBudget.id); // nothing runs

    const [a] = await repo.tasksOf(withBudget.id);
    const agentId = '00000000-0000-4000-8000-0000000000aa';
    a.attachSession({ sessionId: '00000000-0000-4000-8000-000000000011', kind: 'TASK', role: 'IMPLEMENTER', agentId, createdAt: new Date() });
    await repo.updateTask(a);
    expect(await repo.activePlanIds()).toContain(withBudget.id);
    expect(await repo.meanComplexityOf(agentId, 50)).toBe(2);
    expect(await repo.meanComplexityOf('00000000-0000-4000-8000-0000000000bb', 50)).toBeNull();

    const paused = (await repo.findById(withBudget.id))!;
    paused.changeBudget(null);
    paused.resume();
    await repo.updatePlan(paused);
    expect((await repo.findById(withBudget.id))!.snapshot()).toMatchObject({ status: PlanStatus.RUNNING, budget: null, pausedReason: null, pausedMessage: null });
    // The schema refuses a pause reason on a plan that is not PAUSED.
    await expect(dataSource.query(`UPDATE plans SET paused_reason = 'BUDGET' WHERE id = $1`, [withBudget.id])).rejects.toThrow(/ck_plans_paused_reason/);
  });
});

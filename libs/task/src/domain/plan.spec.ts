import { analyseComplexity } from './complexity';
import { analysePlan } from './dag';
import { Plan, PlanTask, TaskSessionRef } from './plan';
import { planMergeMessage, taskMergeMessage } from './plan-branch';
import { ACTIVE_TASK_STATUSES, BLOCKING_TASK_STATUSES, canMoveTask, isFinalTask, LIVE_TASK_STATUSES, PlanStatus, SLOT_TASK_STATUSES, TaskStatus } from './plan-status';
import type { TaskSpec } from './task-spec';

const spec: TaskSpec = { key: 'a', title: 'do  a\nnow', instructions: 'i', role: 'IMPLEMENTER', skills: [], complexity: 3, estimateMinutes: 10, dependsOn: [] };
const usage = { inputTokens: 10, outputTokens: 5, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.01 };
const ref = (sessionId: string, kind: TaskSessionRef['kind'], agentId = `agent-of-${sessionId}`): TaskSessionRef => ({
  sessionId,
  kind,
  role: kind === 'TASK' ? 'IMPLEMENTER' : 'DEBUGGER',
  agentId,
  createdAt: new Date(),
});
const branch = { name: 'orchestrator/plan-1234abcd', repository: '/srv/repo', baseCommit: 'c0ffee' };

function newPlan(budget?: unknown): Plan {
  return Plan.create({
    budget,
    requirement: 'build  it\nwell',
    workspace: '/srv/repo/app',
    template: null,
    chosenBecause: 'given',
    complexity: analyseComplexity('build it'),
    analysis: analysePlan([spec], { agents: 1 }),
    maxParallelTasks: 1,
  });
}

describe('task statuses with the merge queue', () => {
  it('one table: a session done goes MERGING or straight to COMPLETED; a conflict to RESOLVING and back, or CONFLICTED', () => {
    expect(canMoveTask(TaskStatus.RUNNING, TaskStatus.MERGING)).toBe(true);
    expect(canMoveTask(TaskStatus.RETRYING, TaskStatus.MERGING)).toBe(true);
    expect(canMoveTask(TaskStatus.RUNNING, TaskStatus.COMPLETED)).toBe(true); // shared workspace, or nothing committed
    expect(canMoveTask(TaskStatus.PENDING, TaskStatus.MERGING)).toBe(false);
    expect([TaskStatus.COMPLETED, TaskStatus.RESOLVING, TaskStatus.CONFLICTED, TaskStatus.FAILED, TaskStatus.CANCELLED].every((to) => canMoveTask(TaskStatus.MERGING, to))).toBe(true);
    expect(canMoveTask(TaskStatus.MERGING, TaskStatus.RUNNING)).toBe(false);
    expect([TaskStatus.MERGING, TaskStatus.CONFLICTED, TaskStatus.CANCELLED].every((to) => canMoveTask(TaskStatus.RESOLVING, to))).toBe(true);
    expect(canMoveTask(TaskStatus.RESOLVING, TaskStatus.COMPLETED)).toBe(false); // only through the merge queue
    expect(Object.values(TaskStatus).some((to) => canMoveTask(TaskStatus.CONFLICTED, to))).toBe(false);
  });

  it('CONFLICTED is final and blocks dependents; a merge waiting in the queue holds no parallel-task slot', () => {
    expect(isFinalTask(TaskStatus.CONFLICTED)).toBe(true);
    expect(BLOCKING_TASK_STATUSES).toContain(TaskStatus.CONFLICTED);
    expect(ACTIVE_TASK_STATUSES).toEqual(expect.arrayContaining([TaskStatus.MERGING, TaskStatus.RESOLVING]));
    expect(SLOT_TASK_STATUSES).toContain(TaskStatus.RESOLVING);
    expect(SLOT_TASK_STATUSES).not.toContain(TaskStatus.MERGING);
    expect(LIVE_TASK_STATUSES.filter(isFinalTask)).toEqual([]);
    expect(Object.values(TaskStatus).filter((s) => !isFinalTask(s)).sort()).toEqual([...LIVE_TASK_STATUSES].sort());
  });
});

describe('PlanTask through the merge queue', () => {
  it('queues its branch, records conflicts, takes resolvers (attempt and agent kept), and completes once merged', () => {
    const task = PlanTask.create('plan-1', spec, 0);
    task.attachSession(ref('work', 'TASK'));
    task.awaitMerge({ summary: 'done', filesChanged: ['a.ts'] }, usage, new Date(1000));
    expect(task.snapshot()).toMatchObject({ status: TaskStatus.MERGING, result: { summary: 'done' }, merge: { source: 'work', queuedAt: new Date(1000), conflicts: [], commit: null } });

    task.conflicted(['a.ts']);
    task.attachSession(ref('resolver-1', 'RESOLVER'));
    expect(task.snapshot()).toMatchObject({ status: TaskStatus.RESOLVING, sessionId: 'resolver-1', attempt: 1, agentId: 'agent-of-work', merge: { conflicts: ['a.ts'] } });
    expect([task.workSessionId, task.resolverTries]).toEqual(['work', 1]);

    task.unresolved(usage, { code: 'MERGE_CONFLICT_UNRESOLVED', message: 'markers left' }, new Date(2000));
    expect(task.snapshot()).toMatchObject({ status: TaskStatus.MERGING, error: { code: 'MERGE_CONFLICT_UNRESOLVED' }, merge: { source: 'work', queuedAt: new Date(2000) } });

    task.attachSession(ref('resolver-2', 'RESOLVER'));
    task.resolved(usage, new Date(3000));
    expect(task.snapshot()).toMatchObject({ status: TaskStatus.MERGING, merge: { source: 'resolver-2', queuedAt: new Date(3000), conflicts: ['a.ts'] } });
    expect([task.workSessionId, task.resolverTries]).toEqual(['work', 2]);

    task.merged('merge-commit', new Date(4000));
    expect(task.snapshot()).toMatchObject({
      status: TaskStatus.COMPLETED,
      error: null,
      finishedAt: new Date(4000),
      result: { summary: 'done' },
      usage: { inputTokens: 30 },
      merge: { source: 'resolver-2', commit: 'merge-commit', mergedAt: new Date(4000) },
    });
  });

  it('refuses merge steps out of order', () => {
    const task = PlanTask.create('plan-1', spec, 0);
    expect(() => task.awaitMerge(null, null)).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' }));
    expect(() => task.conflicted(['x'])).toThrow(/not in the merge queue/);
    task.attachSession(ref('work', 'TASK'));
    expect(() => task.attachSession(ref('resolver', 'RESOLVER'))).toThrow(/RUNNING to RESOLVING/);
    expect(() => task.merged('c')).toThrow(/not in the merge queue/);
    expect(task.status).toBe(TaskStatus.RUNNING);
    task.awaitMerge(null, null);
    task.end(TaskStatus.CONFLICTED, { code: 'MERGE_CONFLICT', message: 'x' });
    expect(() => task.attachSession(ref('resolver', 'RESOLVER'))).toThrow(/CONFLICTED/);
  });

  it('survives a restore with its merge state copied, not shared', () => {
    const task = PlanTask.create('plan-1', spec, 0);
    task.attachSession(ref('work', 'TASK'));
    task.awaitMerge(null, null);
    task.conflicted(['a.ts']);
    const copy = PlanTask.restore(task.snapshot());
    copy.conflicted(['b.ts']);
    expect(task.merge!.conflicts).toEqual(['a.ts']);
  });
});

describe('Plan with an integration branch', () => {
  it('takes its branch when run, and may be merged only once COMPLETED or FAILED with a branch', () => {
    const plan = newPlan();
    expect(plan.branch).toBeNull();
    expect(() => plan.assertMergeable()).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' }));
    plan.start(branch);
    expect(plan.snapshot().branch).toEqual(branch);
    expect(() => plan.assertMergeable()).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' }));
    plan.finish(PlanStatus.FAILED, { code: 'TASKS_FAILED', message: 'x' });
    expect(plan.assertMergeable()).toEqual(branch);

    const shared = newPlan();
    shared.start(null);
    shared.finish(PlanStatus.COMPLETED, null);
    expect(() => shared.assertMergeable()).toThrow(expect.objectContaining({ code: 'PLAN_NOT_ISOLATED' }));
  });

  it('names the task, its title on one line and the session in a merge commit; the plan and its branch in the plan merge', () => {
    expect(taskMergeMessage(spec, 's-1')).toBe('Merge task a: do a now (session s-1)');
    const plan = newPlan();
    expect(planMergeMessage(plan, branch.name)).toBe(`Merge plan ${plan.id.slice(0, 8)} (orchestrator/plan-1234abcd): build it well`);
  });
});

describe('Plan budget and PAUSED', () => {
  it('takes a budget at creation, normalised (absent or null limits dropped), or none', () => {
    expect(newPlan({ maxCostUsd: 2, maxTokens: null }).budget).toEqual({ maxCostUsd: 2 });
    expect(newPlan().budget).toBeNull();
    expect(newPlan(null).budget).toBeNull();
    expect(newPlan({}).budget).toBeNull();
  });

  it('refuses a bad budget with VALIDATION_FAILED naming the field', () => {
    expect(() => newPlan({ maxCostUsd: -1 })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'budget.maxCostUsd' } }));
    expect(() => newPlan({ maxTokens: 1.5 })).toThrow(expect.objectContaining({ details: { field: 'budget.maxTokens' } }));
    expect(() => newPlan({ maxDollars: 1 })).toThrow(expect.objectContaining({ details: { field: 'budget.maxDollars' } }));
    expect(() => newPlan('lots')).toThrow(expect.objectContaining({ details: { field: 'budget' } }));
    const plan = newPlan({ maxCostUsd: 1 });
    expect(() => plan.changeBudget({ maxMinutes: 0 })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', details: { field: 'budget.maxMinutes' } }));
    expect(plan.budget).toEqual({ maxCostUsd: 1 });
  });

  it('RUNNING → PAUSED (BUDGET, with a message) → RUNNING clears why; PAUSED → CANCELLED', () => {
    const plan = newPlan({ maxCostUsd: 1 });
    expect(() => plan.pause('BUDGET', 'x')).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' })); // DRAFT
    plan.start();
    plan.pause('BUDGET', "task a's forecast does not fit");
    expect(plan.snapshot()).toMatchObject({ status: PlanStatus.PAUSED, pausedReason: 'BUDGET', pausedMessage: "task a's forecast does not fit" });
    plan.pause('BUDGET', 'newer'); // paused again: the newer reason
    expect(plan.snapshot().pausedMessage).toBe('newer');
    expect(() => plan.softDelete()).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' }));
    plan.changeBudget({ maxCostUsd: 5 });
    expect(plan.status).toBe(PlanStatus.PAUSED); // a new budget does not resume it
    plan.resume();
    expect(plan.snapshot()).toMatchObject({ status: PlanStatus.RUNNING, pausedReason: null, pausedMessage: null, budget: { maxCostUsd: 5 } });
    expect(() => plan.resume()).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' }));
    plan.pause('BUDGET', 'again');
    plan.cancel();
    expect(plan.snapshot()).toMatchObject({ status: PlanStatus.CANCELLED, pausedReason: null });
  });

  it('changes the budget while DRAFT, RUNNING or PAUSED only (null removes it)', () => {
    const plan = newPlan({ maxCostUsd: 1 });
    plan.changeBudget(null);
    expect(plan.budget).toBeNull();
    plan.start();
    plan.changeBudget({ maxTokens: 1000 });
    plan.finish(PlanStatus.COMPLETED, null);
    expect(() => plan.changeBudget({ maxTokens: 2000 })).toThrow(expect.objectContaining({ code: 'PLAN_INVALID_STATE' }));
  });

  it('a PAUSED plan whose last tasks settled finishes', () => {
    const plan = newPlan();
    plan.start();
    plan.pause('BUDGET', 'x');
    plan.finish(PlanStatus.FAILED, { code: 'TASKS_FAILED', message: 'm' });
    expect(plan.snapshot()).toMatchObject({ status: PlanStatus.FAILED, pausedReason: null });
  });

  it('a task whose session was stopped at the budget goes back to PENDING with its usage kept', () => {
    const task = PlanTask.create('p', spec, 0);
    task.attachSession(ref('s1', 'TASK'));
    task.budgetStopped(usage, { code: 'BUDGET_EXCEEDED', message: 'plan limit' });
    expect(task.snapshot()).toMatchObject({ status: TaskStatus.PENDING, sessionId: null, attempt: 0, usage: { costUsd: 0.01 }, error: { code: 'BUDGET_EXCEEDED' } });
    expect(task.snapshot().sessions).toHaveLength(1);
    task.attachSession(ref('s2', 'TASK'));
    expect(task.snapshot()).toMatchObject({ status: TaskStatus.RUNNING, attempt: 1, sessionId: 's2' });
    expect(canMoveTask(TaskStatus.RETRYING, TaskStatus.PENDING)).toBe(true);
    expect(canMoveTask(TaskStatus.MERGING, TaskStatus.PENDING)).toBe(false);
  });
});

import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { FakeTaskSessions, InMemoryPlanRepository, taskSpec } from '@app/task/testing';
import { analyseComplexity } from '../domain/complexity';
import { analysePlan } from '../domain/dag';
import { Plan, PlanTask } from '../domain/plan';
import { PlanStatus, TaskStatus } from '../domain/plan-status';
import type { TaskSpec } from '../domain/task-spec';
import { PLAN_RETENTION_MAX_BATCHES, PlanRetentionService } from './plan-retention.service';
import type { PlanRetentionKind, PlanRetentionMetricsPort } from './ports/retention-metrics.port';
import type { TaskSessionStatus } from './ports/task-sessions.port';

const DAY = 24 * 3600_000;
const NOW = new Date('2030-06-30T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);

class CountingMetrics implements PlanRetentionMetricsPort {
  readonly totals: Record<PlanRetentionKind, number> = { plans: 0, plan_tasks: 0 };
  pruned(kind: PlanRetentionKind, count: number): void {
    this.totals[kind] += count;
  }
}

const spec = (key: string, dependsOn: string[] = []): TaskSpec => taskSpec(key, dependsOn, { skills: [] });

describe('PlanRetentionService', () => {
  let plans: InMemoryPlanRepository;
  let sessions: FakeTaskSessions;
  let metrics: CountingMetrics;
  let logged: jest.SpyInstance;
  const service = (env: Record<string, string>) => new PlanRetentionService(plans, sessions, AppConfig.with(env), metrics);

  async function sessionIn(status: TaskSessionStatus): Promise<string> {
    const made = await sessions.create({
      title: 't',
      prompt: 'p',
      workspace: '/tmp',
      role: 'IMPLEMENTER',
      skills: [],
      complexity: 1,
      origin: { planId: 'p', taskKey: 'a', retryOf: null },
      createdByKeyId: null,
    });
    const id = 'session' in made ? made.session.id : '';
    sessions.sessions.get(id)!.status = status;
    return id;
  }

  /**
   * A plan of two tasks, stored as it is once `how` happened at `at`: both tasks run a session
   * (in `sessionStatus`) and complete, then the plan finishes; or it is cancelled while task b
   * still runs (`liveTask`); or it is a DRAFT (deleted or not).
   */
  async function plan(
    how: 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'DRAFT' | 'DELETED_DRAFT' | 'RUNNING',
    at: Date,
    options: { sessionStatus?: TaskSessionStatus; liveTask?: boolean } = {},
  ): Promise<string> {
    const specs = [spec('a'), spec('b', ['a'])];
    const p = Plan.create(
      { requirement: 'r', workspace: '/tmp', template: null, chosenBecause: 'given', complexity: analyseComplexity('r'), analysis: analysePlan(specs, { agents: 2 }), maxParallelTasks: 2 },
      at,
    );
    const tasks = specs.map((s, i) => PlanTask.create(p.id, s, i, at));
    if (how === 'DELETED_DRAFT') p.softDelete(at);
    if (how !== 'DRAFT' && how !== 'DELETED_DRAFT') {
      p.start(null, at);
      for (const t of tasks) {
        const sessionId = await sessionIn(options.sessionStatus ?? 'COMPLETED');
        t.attachSession({ sessionId, kind: 'TASK', role: 'IMPLEMENTER', agentId: null, createdAt: at }, at);
        if (!(options.liveTask && t.key === 'b')) t.complete({ summary: 'done', filesChanged: [] }, null, at);
      }
      if (how === 'CANCELLED') p.cancel(at);
      else if (how === 'FAILED') p.finish(PlanStatus.FAILED, { code: 'TASK_FAILED', message: 'x' }, at);
      else if (how === 'COMPLETED') p.finish(PlanStatus.COMPLETED, null, at);
    }
    await plans.insert(p, tasks);
    return p.id;
  }

  beforeEach(() => {
    plans = new InMemoryPlanRepository();
    sessions = new FakeTaskSessions();
    metrics = new CountingMetrics();
    logged = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => logged.mockRestore());

  it('deletes plans finished (or drafts deleted) before RETENTION_DAYS with their tasks, in batches; keeps the rest', async () => {
    const old = [
      await plan('COMPLETED', daysAgo(90)),
      await plan('FAILED', daysAgo(80)),
      await plan('CANCELLED', daysAgo(70)),
      await plan('DELETED_DRAFT', daysAgo(60)),
    ];
    const recent = await plan('COMPLETED', daysAgo(29));
    const running = await plan('RUNNING', daysAgo(100), { sessionStatus: 'RUNNING', liveTask: true });
    const draft = await plan('DRAFT', daysAgo(100));
    const findPrunable = jest.spyOn(plans, 'findPrunable');

    const report = await service({ RETENTION_DAYS: '30', RETENTION_BATCH_SIZE: '3' }).prune(NOW);

    expect(report).toEqual({ cutoff: daysAgo(30), plans: 4, tasks: 8, kept: 0, complete: true });
    expect(findPrunable.mock.calls.map(([, limit]) => limit)).toEqual([3, 3]);
    expect(metrics.totals).toEqual({ plans: 4, plan_tasks: 8 });
    for (const id of old) {
      expect(plans.plans.has(id)).toBe(false);
      expect([...plans.tasks.values()].filter((t) => t.planId === id)).toEqual([]);
    }
    for (const id of [recent, running, draft]) expect(plans.plans.has(id)).toBe(true);
    expect(plans.tasks.size).toBe(6);
    expect(logged.mock.calls).toEqual([['Retention: deleted 4 plan(s) with 8 task(s) finished before 2030-05-31T12:00:00.000Z']]);
  });

  it('keeps a plan while a session of its tasks still runs, and walks past it to the next ones', async () => {
    const waiting = await plan('CANCELLED', daysAgo(90), { sessionStatus: 'RUNNING' });
    const done = await plan('COMPLETED', daysAgo(80));
    const report = await service({ RETENTION_DAYS: '30', RETENTION_BATCH_SIZE: '1' }).prune(NOW);
    expect(report).toMatchObject({ plans: 1, tasks: 2, kept: 1, complete: true });
    expect(plans.plans.has(waiting)).toBe(true);
    expect(plans.plans.has(done)).toBe(false);
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/; 1 kept while a session of theirs runs$/));

    // Once its session has finished, the next run deletes it.
    for (const s of sessions.sessions.values()) s.status = 'CANCELLED';
    expect(await service({ RETENTION_DAYS: '30' }).prune(NOW)).toMatchObject({ plans: 1, kept: 0 });
    expect(plans.plans.has(waiting)).toBe(false);
  });

  it('keeps a cancelled plan whose cancel has not reached every task yet', async () => {
    const id = await plan('CANCELLED', daysAgo(90), { liveTask: true });
    expect(plans.task(id, 'b').status).toBe(TaskStatus.RUNNING);
    expect(await service({ RETENTION_DAYS: '30' }).prune(NOW)).toMatchObject({ plans: 0, kept: 0, complete: true });
    expect(plans.plans.get(id)!.status).toBe(PlanStatus.CANCELLED);
  });

  it('stops at its batch cap and says more is due', async () => {
    for (let i = 0; i < PLAN_RETENTION_MAX_BATCHES + 3; i++) await plan('COMPLETED', daysAgo(40 + i / 100));
    const report = await service({ RETENTION_DAYS: '30', RETENTION_BATCH_SIZE: '1' }).prune(NOW);
    expect(report).toMatchObject({ plans: PLAN_RETENTION_MAX_BATCHES, complete: false });
    expect(plans.plans.size).toBe(3);
    expect(logged).toHaveBeenCalledWith(expect.stringMatching(/; more are due, the next run goes on$/));
  });

  it('deletes nothing with RETENTION_DAYS=0', async () => {
    const id = await plan('COMPLETED', daysAgo(3650));
    expect(await service({ RETENTION_DAYS: '0' }).prune(NOW)).toEqual({ cutoff: null, plans: 0, tasks: 0, kept: 0, complete: true });
    expect(plans.plans.has(id)).toBe(true);
    expect(logged).not.toHaveBeenCalled();
  });
});

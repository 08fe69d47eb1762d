import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testWorkspaces } from '@app/workspace/testing';
import type { TaskSpec } from '../domain/task-spec';
import { PlanKicker } from './plan-kicker';
import { PlanScheduler } from './plan-scheduler';
import { PlanService } from './plan.service';
import { PlanStatus, TaskStatus } from '../domain/plan-status';
import { FakeTaskSessions, InMemoryPlanRepository } from '@app/task/testing';

const task = (key: string, dependsOn: string[] = [], extra: Partial<TaskSpec> = {}): TaskSpec => ({
  key,
  title: `do ${key}`,
  instructions: `instructions of ${key}`,
  role: 'IMPLEMENTER',
  skills: ['typescript'],
  complexity: 3,
  estimateMinutes: 10,
  dependsOn,
  ...extra,
});

function setup(maxConcurrentSessions = 4, workspace = tmpdir()) {
  const repo = new InMemoryPlanRepository();
  const sessions = new FakeTaskSessions();
  const locks = new InMemoryLocks();
  const config = { maxConcurrentSessions } as AppConfig;
  const scheduler = new PlanScheduler(repo, sessions, locks, config, testWorkspaces());
  const service = new PlanService(repo, sessions, locks, scheduler, new PlanKicker(), config, testWorkspaces());
  const runPlan = async (tasks: TaskSpec[]) => {
    const { plan } = await service.create({ requirement: 'build the thing', workspace, tasks });
    await service.run(plan.id);
    return plan.id;
  };
  const status = (planId: string, key: string) => repo.task(planId, key).status;
  const planStatus = async (planId: string) => (await repo.findById(planId))!.status;
  /** Completes the live session of each task named. */
  const complete = (...keys: string[]) =>
    keys.forEach((k) => sessions.finish(sessions.of(k)[0].id, 'COMPLETED', { result: { summary: `${k} done`, filesChanged: [`${k}.ts`] } }));
  return { repo, sessions, locks, scheduler, service, runPlan, status, planStatus, complete, config };
}

describe('PlanScheduler', () => {
  it('starts a task only when all its dependencies completed, with their results in its prompt', async () => {
    const t = setup();
    const id = await t.runPlan([task('design', [], { role: 'ARCHITECT' }), task('a', ['design']), task('b', ['design']), task('review', ['a', 'b'], { role: 'REVIEWER' })]);

    await t.scheduler.advance(id);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['design']);
    expect(t.sessions.created[0].command).toMatchObject({ role: 'ARCHITECT', skills: ['typescript'], complexity: 3, origin: { planId: id, taskKey: 'design', retryOf: null } });
    expect(t.sessions.starts).toEqual([t.sessions.created[0].id]);
    expect(t.status(id, 'design')).toBe(TaskStatus.RUNNING);
    expect(t.status(id, 'a')).toBe(TaskStatus.PENDING);

    await t.scheduler.advance(id); // nothing changed: nothing new
    expect(t.sessions.created).toHaveLength(1);

    t.complete('design');
    await t.scheduler.advance(id);
    expect(t.status(id, 'design')).toBe(TaskStatus.COMPLETED);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['design', 'a', 'b']);
    const promptA = t.sessions.of('a')[0].prompt;
    expect(promptA).toContain('instructions of a');
    expect(promptA).toContain('build the thing');
    expect(promptA).toMatch(/design \(do design\):\n<untrusted-output-[0-9a-f]+ source="result of task design">\ndesign done/);
    expect(promptA).toContain('design.ts');

    t.complete('a');
    await t.scheduler.advance(id);
    expect(t.status(id, 'review')).toBe(TaskStatus.PENDING); // b still runs
    t.complete('b');
    await t.scheduler.advance(id);
    expect(t.sessions.of('review')[0].command.role).toBe('REVIEWER');
    t.complete('review');
    expect(await t.scheduler.advance(id)).toBe('finished');
    expect(await t.planStatus(id)).toBe(PlanStatus.COMPLETED);
    expect(t.repo.task(id, 'review').usage).toMatchObject({ inputTokens: 10, costUsd: 0.01 });
  });

  it('fills limited slots least slack first (ties by key), and leaves a slot to the next task when an agent is busy', async () => {
    const t = setup(1);
    // long → after is the critical path; short has slack.
    const id = await t.runPlan([task('short', [], { estimateMinutes: 5 }), task('long', [], { estimateMinutes: 30 }), task('after', ['long'], { estimateMinutes: 30 })]);
    await t.scheduler.advance(id);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['long']);
    t.complete('long');
    await t.scheduler.advance(id);
    // after (slack 0) before short (slack 55), one slot.
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['long', 'after']);

    const u = setup(2);
    const id2 = await u.runPlan([task('b'), task('a'), task('c', [], { role: 'REVIEWER' })]);
    u.sessions.saturatedRoles.add('IMPLEMENTER');
    await u.scheduler.advance(id2);
    // a and b tie (slack 0) but no implementer is free: c takes a slot.
    expect(u.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['c']);
    u.sessions.saturatedRoles.clear();
    await u.scheduler.advance(id2);
    expect(u.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['c', 'a']);
  });

  it('retries a failed task once on the Debugger, then blocks its dependents and fails the plan while the independent branch finishes', async () => {
    const t = setup();
    const id = await t.runPlan([task('a'), task('a2', ['a']), task('a3', ['a2']), task('b')]);
    await t.scheduler.advance(id);
    const first = t.sessions.of('a')[0];
    t.sessions.finish(first.id, 'FAILED', {
      error: { code: 'PROVIDER_ERROR', message: 'boom' },
      result: { summary: 'half done', filesChanged: ['half.ts'] },
    });
    await t.scheduler.advance(id);

    const retry = t.sessions.of('a')[0];
    expect(retry.id).not.toBe(first.id);
    expect(retry.command).toMatchObject({ role: 'DEBUGGER', origin: { planId: id, taskKey: 'a', retryOf: first.id } });
    expect(retry.prompt).toContain('instructions of a');
    expect(retry.prompt).toMatch(/The failure \(code PROVIDER_ERROR\):\n<untrusted-output-[0-9a-f]+ source="error message of the failed run">\nboom/);
    expect(retry.prompt).toContain('half done');
    expect(retry.prompt).toContain('half.ts');
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.RETRYING, attempt: 2, sessionId: retry.id });
    expect(t.repo.task(id, 'a').sessions.map((s) => [s.kind, s.role])).toEqual([
      ['TASK', 'IMPLEMENTER'],
      ['DEBUG_RETRY', 'DEBUGGER'],
    ]);

    t.sessions.finish(retry.id, 'TIMED_OUT', { error: { code: 'TIMED_OUT', message: 'too slow' } });
    await t.scheduler.advance(id);
    expect(t.status(id, 'a')).toBe(TaskStatus.FAILED);
    expect(t.status(id, 'a2')).toBe(TaskStatus.BLOCKED);
    expect(t.status(id, 'a3')).toBe(TaskStatus.BLOCKED);
    expect(t.repo.task(id, 'a').usage?.inputTokens).toBe(20); // both sessions
    expect(await t.planStatus(id)).toBe(PlanStatus.RUNNING); // b still runs

    t.complete('b');
    await t.scheduler.advance(id);
    expect(t.status(id, 'b')).toBe(TaskStatus.COMPLETED);
    const plan = (await t.repo.findById(id))!.snapshot();
    expect(plan.status).toBe(PlanStatus.FAILED);
    expect(plan.error?.message).toMatch(/failed: a; blocked: a2, a3/);
    expect(t.sessions.of('a2')).toEqual([]);
  });

  it("makes every task session, the Debugger's retry included, on behalf of the plan's key", async () => {
    const t = setup();
    const { plan } = await t.service.create({ requirement: 'build it', workspace: tmpdir(), tasks: [task('a')], createdByKeyId: 'key-of-the-plan' });
    expect(plan.createdByKeyId).toBe('key-of-the-plan');
    await t.service.run(plan.id);
    await t.scheduler.advance(plan.id);
    const [first] = t.sessions.of('a');
    expect(first.command.createdByKeyId).toBe('key-of-the-plan');
    t.sessions.finish(first.id, 'FAILED', { error: { code: 'PROVIDER_ERROR', message: 'no' } });
    await t.scheduler.advance(plan.id);
    const [retry] = t.sessions.of('a'); // newest first
    expect(retry.command).toMatchObject({ role: 'DEBUGGER', createdByKeyId: 'key-of-the-plan' });
  });

  it('runs a session the infrastructure failed again (same session, next attempt), keeping the Debugger retry for real failures', async () => {
    const t = setup();
    const id = await t.runPlan([task('a')]);
    await t.scheduler.advance(id);
    const session = t.sessions.of('a')[0];
    t.sessions.finish(session.id, 'FAILED', { error: { code: 'WORKER_LOST', message: 'the worker died' } });
    await t.scheduler.advance(id);
    expect(t.sessions.retries).toEqual([session.id]);
    expect(t.sessions.of('a')).toHaveLength(1); // no Debugger session
    expect(t.status(id, 'a')).toBe(TaskStatus.RUNNING);
    t.sessions.finish(session.id, 'FAILED', { error: { code: 'WORKSPACE_LOCK_LOST', message: 'redis restarted' } });
    await t.scheduler.advance(id);
    t.sessions.finish(session.id, 'FAILED', { error: { code: 'WORKER_LOST', message: 'again' } });
    await t.scheduler.advance(id);
    // Three attempts lost to the infrastructure: now it counts as a failure and goes to the Debugger.
    expect(t.sessions.retries).toEqual([session.id, session.id]);
    expect(t.sessions.of('a')[0].command.role).toBe('DEBUGGER');
    expect(t.status(id, 'a')).toBe(TaskStatus.RETRYING);
  });

  it('a task whose session someone else cancelled is CANCELLED and its dependents BLOCKED', async () => {
    const t = setup();
    const id = await t.runPlan([task('a'), task('b', ['a'])]);
    await t.scheduler.advance(id);
    t.sessions.finish(t.sessions.of('a')[0].id, 'CANCELLED');
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.CANCELLED, error: { code: 'SESSION_CANCELLED' } });
    expect(t.status(id, 'b')).toBe(TaskStatus.BLOCKED);
    expect(await t.planStatus(id)).toBe(PlanStatus.FAILED);
  });

  it('cancel stops running sessions, cancels pending tasks, and nothing starts afterwards', async () => {
    const t = setup();
    const id = await t.runPlan([task('a'), task('b'), task('c', ['a'])]);
    await t.scheduler.advance(id);
    t.complete('b');
    await t.service.cancel(id);
    expect(await t.planStatus(id)).toBe(PlanStatus.CANCELLED);
    expect(t.sessions.cancels).toEqual([t.sessions.of('a')[0].id]);
    expect(t.status(id, 'a')).toBe(TaskStatus.CANCELLED);
    expect(t.status(id, 'b')).toBe(TaskStatus.COMPLETED); // its session had completed
    expect(t.status(id, 'c')).toBe(TaskStatus.CANCELLED);
    await t.scheduler.advance(id);
    expect(t.sessions.created).toHaveLength(2);
    await expect(t.service.cancel(id)).rejects.toMatchObject({ code: 'PLAN_INVALID_STATE' });
    await expect(t.service.run(id)).rejects.toMatchObject({ code: 'PLAN_INVALID_STATE' });
    expect(await t.repo.activePlanIds()).not.toContain(id);
  });

  it('resumes from the stored state after a restart without creating or starting anything twice', async () => {
    const t = setup();
    const id = await t.runPlan([task('a'), task('b'), task('c', ['a', 'b'])]);
    // The first process created and recorded a's session, then died before starting it; b was started.
    const crashing = new PlanScheduler(t.repo, t.sessions, t.locks, t.config, testWorkspaces());
    const realStart = t.sessions.start.bind(t.sessions);
    let starts = 0;
    t.sessions.start = async (sid) => {
      if (starts++ === 0) throw new Error('process died');
      return realStart(sid);
    };
    await crashing.advance(id);
    t.sessions.start = realStart;
    expect(t.sessions.created).toHaveLength(2);
    const a = t.sessions.of('a')[0];
    expect(a.status).toBe('PENDING');
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.RUNNING, sessionId: a.id });
    // While it was down, b's session completed.
    t.complete('b');

    const restarted = new PlanScheduler(t.repo, t.sessions, t.locks, t.config, testWorkspaces());
    expect(await t.repo.activePlanIds()).toEqual([id]);
    await restarted.advance(id);
    await restarted.advance(id);
    expect(t.sessions.created).toHaveLength(2); // nothing created again
    await expect(t.sessions.get(a.id)).resolves.toMatchObject({ status: 'QUEUED' });
    expect(t.sessions.starts.filter((s) => s === a.id)).toHaveLength(1);
    expect(t.status(id, 'b')).toBe(TaskStatus.COMPLETED);
    t.complete('a');
    await restarted.advance(id);
    t.complete('c');
    await restarted.advance(id);
    expect(await t.planStatus(id)).toBe(PlanStatus.COMPLETED);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey).sort()).toEqual(['a', 'b', 'c']);
  });

  it('finishes a cancel that stopped half-way', async () => {
    const t = setup();
    const id = await t.runPlan([task('a'), task('b', ['a'])]);
    await t.scheduler.advance(id);
    const plan = (await t.repo.findById(id))!;
    plan.cancel();
    await t.repo.updatePlan(plan); // the process died here
    expect(await t.repo.activePlanIds()).toEqual([id]);
    await t.scheduler.advance(id);
    expect([t.status(id, 'a'), t.status(id, 'b')]).toEqual([TaskStatus.CANCELLED, TaskStatus.CANCELLED]);
    expect(t.sessions.cancels).toHaveLength(1);
    expect(await t.repo.activePlanIds()).toEqual([]);
  });

  it('fails the plan with WORKSPACE_MISSING when its workspace vanished', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'plan-scheduler-spec-'));
    const t = setup(4, workspace);
    const id = await t.runPlan([task('a'), task('b', ['a'])]);
    await t.scheduler.advance(id);
    rmSync(workspace, { recursive: true });
    await t.scheduler.advance(id);
    const plan = (await t.repo.findById(id))!.snapshot();
    expect(plan).toMatchObject({ status: PlanStatus.FAILED, error: { code: 'WORKSPACE_MISSING' } });
    expect(plan.error?.message).toContain(tmpdir());
    expect(t.sessions.cancels).toHaveLength(1);
    expect([t.status(id, 'a'), t.status(id, 'b')]).toEqual([TaskStatus.CANCELLED, TaskStatus.CANCELLED]);
  });

  it('holds a plan lock as this process on this host: the scheduler and the commands with owners of their own', async () => {
    const t = setup();
    const onHostA = testWorkspaces(undefined, 'host-a:42');
    const scheduler = new PlanScheduler(t.repo, t.sessions, t.locks, t.config, onHostA);
    const service = new PlanService(t.repo, t.sessions, t.locks, scheduler, new PlanKicker(), t.config, onHostA);
    const { plan } = await service.create({ requirement: 'build the thing', workspace: tmpdir(), tasks: [task('a')] });
    const acquire = jest.spyOn(t.locks, 'acquire');
    await service.run(plan.id);
    await scheduler.advance(plan.id);
    expect(acquire.mock.calls.map(([resource, options]) => [resource, options.owner])).toEqual([
      [`plan:${plan.id}`, expect.stringMatching(/^plan-api:host-a:42:[0-9a-f-]{36}$/)],
      [`plan:${plan.id}`, expect.stringMatching(/^plan-scheduler:host-a:42:[0-9a-f-]{36}$/)],
    ]);
  });

  it('skips a plan another tick holds', async () => {
    const t = setup();
    const id = await t.runPlan([task('a')]);
    const lease = await t.locks.acquire(`plan:${id}`, { owner: 'other', ttlMs: 1000, waitTimeoutMs: 0 });
    expect(await t.scheduler.advance(id)).toBe('busy');
    expect(t.sessions.created).toHaveLength(0);
    await t.locks.release(lease);
    expect(await t.scheduler.advance(id)).toBe('advanced');
  });

  it('refuses an invalid graph naming the tasks, and fills defaults of user tasks', async () => {
    const t = setup();
    await expect(
      t.service.create({ requirement: 'r', workspace: tmpdir(), tasks: [task('x', ['y']), task('y', ['x'])] }),
    ).rejects.toMatchObject({ code: 'PLAN_INVALID', details: { problems: [expect.objectContaining({ kind: 'CYCLE', tasks: expect.arrayContaining(['x', 'y']) })] } });
    const { tasks } = await t.service.create({ requirement: 'r', workspace: tmpdir(), tasks: [{ key: 'k', title: 't', instructions: 'i', role: 'IMPLEMENTER' }] });
    expect(tasks[0].spec).toMatchObject({ skills: [], dependsOn: [], complexity: 5, estimateMinutes: 30 });
    await expect(t.service.create({ requirement: 'r', workspace: 'relative', tasks: [] })).rejects.toMatchObject({ code: 'WORKSPACE_INVALID' });
  });
});

import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { testWorkspaces } from '@app/workspace/testing';
import type { WorkspacePort } from '@app/workspace';
import type { TaskSpec } from '../domain/task-spec';
import { IntegrationBranches } from './integration-branches';
import { PlanKicker } from './plan-kicker';
import { DEFAULT_PLAN_MERGE_SETTINGS, PlanMergeSettings } from './plan-merge-settings';
import { PlanScheduler } from './plan-scheduler';
import { PlanService } from './plan.service';
import { TaskMerges } from './task-merges';
import { PlanStatus, TaskStatus } from '../domain/plan-status';
import { FakeAgentRunHistory, FakeGit, FakePlanSpending, FakeTaskSessions, InMemoryPlanRepository, taskSpec } from '@app/task/testing';
import { TaskForecaster } from './task-forecaster';


function setup(maxConcurrentSessions = 4, workspace = tmpdir(), settings: Partial<PlanMergeSettings> = {}) {
  const repo = new InMemoryPlanRepository();
  const git = new FakeGit();
  const sessions = new FakeTaskSessions(git);
  const locks = new InMemoryLocks();
  const config = { maxConcurrentSessions, capacity: { taskCostPriorUsd: 0.05 } } as AppConfig;
  const spending = new FakePlanSpending();
  const history = new FakeAgentRunHistory();
  const forecaster = new TaskForecaster(history, repo, config);
  const mergeSettings = { ...DEFAULT_PLAN_MERGE_SETTINGS, ...settings };
  /** The scheduler and the plan use cases as one process on one host would wire them. */
  const processOn = (workspaces: WorkspacePort = testWorkspaces()) => {
    const branches = new IntegrationBranches(git, locks, workspaces, mergeSettings);
    const scheduler = new PlanScheduler(repo, sessions, locks, config, workspaces, new TaskMerges(repo, sessions, branches, mergeSettings), spending, forecaster);
    return { scheduler, service: new PlanService(repo, sessions, locks, scheduler, new PlanKicker(), config, workspaces, branches, spending, forecaster) };
  };
  const { scheduler, service } = processOn();
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
  return { repo, git, sessions, locks, scheduler, service, processOn, runPlan, status, planStatus, complete, config, spending, history };
}

const gitWorkspaces: string[] = [];
afterAll(() => gitWorkspaces.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A plan's process on a (fake) git repository at a real temporary directory: main holds README.md. */
function gitSetup(maxConcurrentSessions = 4, settings: Partial<PlanMergeSettings> = {}) {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'plan-scheduler-git-spec-')));
  gitWorkspaces.push(root);
  const t = setup(maxConcurrentSessions, root, settings);
  const initial = t.git.init(root, { 'README.md': 'hello\n' });
  /** Completes the live session of a task, its run having committed `writes` on its branch. */
  const finish = (key: string, writes: Record<string, string> = {}) =>
    t.sessions.finish(t.sessions.of(key)[0].id, 'COMPLETED', { result: { summary: `${key} done`, filesChanged: Object.keys(writes) }, writes });
  const branchOf = async (planId: string) => (await t.repo.findById(planId))!.branch!;
  return { ...t, root, initial, finish, branchOf };
}

describe('PlanScheduler', () => {
  it('starts a task only when all its dependencies completed, with their results in its prompt', async () => {
    const t = setup();
    const id = await t.runPlan([taskSpec('design', [], { role: 'ARCHITECT' }), taskSpec('a', ['design']), taskSpec('b', ['design']), taskSpec('review', ['a', 'b'], { role: 'REVIEWER' })]);

    await t.scheduler.advance(id);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['design']);
    expect(t.sessions.created[0].command).toMatchObject({ role: 'ARCHITECT', skills: ['typescript'], complexity: 3, origin: { planId: id, taskKey: 'design', retryOf: null } });
    // Not in a git work tree: no integration branch, the tasks share the workspace.
    expect((await t.repo.findById(id))!.branch).toBeNull();
    expect(t.sessions.created[0].command.worktree).toBeUndefined();
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
    const id = await t.runPlan([taskSpec('short', [], { estimateMinutes: 5 }), taskSpec('long', [], { estimateMinutes: 30 }), taskSpec('after', ['long'], { estimateMinutes: 30 })]);
    await t.scheduler.advance(id);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['long']);
    t.complete('long');
    await t.scheduler.advance(id);
    // after (slack 0) before short (slack 55), one slot.
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['long', 'after']);

    const u = setup(2);
    const id2 = await u.runPlan([taskSpec('b'), taskSpec('a'), taskSpec('c', [], { role: 'REVIEWER' })]);
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
    const id = await t.runPlan([taskSpec('a'), taskSpec('a2', ['a']), taskSpec('a3', ['a2']), taskSpec('b')]);
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
    const { plan } = await t.service.create({ requirement: 'build it', workspace: tmpdir(), tasks: [taskSpec('a')], createdByKeyId: 'key-of-the-plan' });
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
    const id = await t.runPlan([taskSpec('a')]);
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
    const id = await t.runPlan([taskSpec('a'), taskSpec('b', ['a'])]);
    await t.scheduler.advance(id);
    t.sessions.finish(t.sessions.of('a')[0].id, 'CANCELLED');
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.CANCELLED, error: { code: 'SESSION_CANCELLED' } });
    expect(t.status(id, 'b')).toBe(TaskStatus.BLOCKED);
    expect(await t.planStatus(id)).toBe(PlanStatus.FAILED);
  });

  it('cancel stops running sessions, cancels pending tasks, and nothing starts afterwards', async () => {
    const t = setup();
    const id = await t.runPlan([taskSpec('a'), taskSpec('b'), taskSpec('c', ['a'])]);
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
    const id = await t.runPlan([taskSpec('a'), taskSpec('b'), taskSpec('c', ['a', 'b'])]);
    // The first process created and recorded a's session, then died before starting it; b was started.
    const crashing = t.processOn().scheduler;
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

    const restarted = t.processOn().scheduler;
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
    const id = await t.runPlan([taskSpec('a'), taskSpec('b', ['a'])]);
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
    const id = await t.runPlan([taskSpec('a'), taskSpec('b', ['a'])]);
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
    const { scheduler, service } = t.processOn(testWorkspaces(undefined, 'host-a:42'));
    const { plan } = await service.create({ requirement: 'build the thing', workspace: tmpdir(), tasks: [taskSpec('a')] });
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
    const id = await t.runPlan([taskSpec('a')]);
    const lease = await t.locks.acquire(`plan:${id}`, { owner: 'other', ttlMs: 1000, waitTimeoutMs: 0 });
    expect(await t.scheduler.advance(id)).toBe('busy');
    expect(t.sessions.created).toHaveLength(0);
    await t.locks.release(lease);
    expect(await t.scheduler.advance(id)).toBe('advanced');
  });

  it('refuses an invalid graph naming the tasks, and fills defaults of user tasks', async () => {
    const t = setup();
    await expect(
      t.service.create({ requirement: 'r', workspace: tmpdir(), tasks: [taskSpec('x', ['y']), taskSpec('y', ['x'])] }),
    ).rejects.toMatchObject({ code: 'PLAN_INVALID', details: { problems: [expect.objectContaining({ kind: 'CYCLE', tasks: expect.arrayContaining(['x', 'y']) })] } });
    const { tasks } = await t.service.create({ requirement: 'r', workspace: tmpdir(), tasks: [{ key: 'k', title: 't', instructions: 'i', role: 'IMPLEMENTER' }] });
    expect(tasks[0].spec).toMatchObject({ skills: [], dependsOn: [], complexity: 5, estimateMinutes: 30 });
    await expect(t.service.create({ requirement: 'r', workspace: 'relative', tasks: [] })).rejects.toMatchObject({ code: 'WORKSPACE_INVALID' });
  });
});

describe('PlanScheduler in a git workspace', () => {
  it('makes the integration branch from HEAD at run, runs each task on a branch of its own once its dependencies are merged, independent ones at once', async () => {
    const t = gitSetup();
    const acquire = jest.spyOn(t.locks, 'acquire');
    const id = await t.runPlan([taskSpec('a'), taskSpec('b', ['a']), taskSpec('c', ['a']), taskSpec('d', ['b', 'c'], { role: 'REVIEWER' })]);
    const branch = await t.branchOf(id);
    expect(branch).toEqual({ name: `orchestrator/plan-${id.replace(/-/g, '').slice(0, 8)}`, repository: t.root, baseCommit: t.initial });

    await t.scheduler.advance(id);
    const a = t.sessions.of('a')[0];
    expect(a.command.worktree).toEqual({ baseRef: branch.name });
    t.finish('a', { 'a.txt': 'a\n' });
    await t.scheduler.advance(id);
    const mergedA = t.repo.task(id, 'a').merge!;
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.COMPLETED, result: { summary: 'a done' }, merge: { source: a.id, conflicts: [], commit: expect.any(String) } });
    expect(mergedA.commit).toBe(t.git.commitOfSync(t.root, branch.name));
    expect(t.git.read(t.root, branch.name)).toEqual({ 'README.md': 'hello\n', 'a.txt': 'a\n' });
    expect(t.git.merges[0]).toEqual({
      repository: t.root,
      source: t.sessions.sessions.get(a.id)!.changes!.headCommit, // its head commit: merged again as up to date after a crash
      target: branch.name,
      strategy: 'merge',
      message: `Merge task a: do a (session ${a.id})`,
      author: { name: 'OpenCode Orchestrator', email: 'orchestrator@localhost' },
    });
    expect(t.sessions.merged).toEqual([{ sessionId: a.id, target: branch.name, commit: mergedA.commit }]);
    expect(acquire.mock.calls.map(([resource, options]) => [resource, options.owner])).toContainEqual([`git-merge:${t.root}`, expect.stringMatching(/^plan-scheduler-merge:/)]);

    // b and c at once, each from the integration branch holding a's work.
    const [b, c] = [t.sessions.of('b')[0], t.sessions.of('c')[0]];
    expect([b.status, c.status]).toEqual(['QUEUED', 'QUEUED']);
    expect([b.changes!.baseCommit, c.changes!.baseCommit]).toEqual([mergedA.commit, mergedA.commit]);
    t.finish('c', { 'c.txt': 'c\n' });
    await t.scheduler.advance(id);
    expect([t.status(id, 'b'), t.status(id, 'c'), t.status(id, 'd')]).toEqual([TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.PENDING]);
    t.finish('b', { 'b.txt': 'b\n' });
    await t.scheduler.advance(id);
    const d = t.sessions.of('d')[0];
    expect(t.git.read(t.root, d.changes!.baseCommit)).toEqual({ 'README.md': 'hello\n', 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'c\n' });

    // A session that committed nothing completes without a merge.
    t.finish('d');
    expect(await t.scheduler.advance(id)).toBe('finished');
    expect(t.repo.task(id, 'd')).toMatchObject({ status: TaskStatus.COMPLETED, merge: null });
    expect(t.git.merges).toHaveLength(3);
    expect(await t.planStatus(id)).toBe(PlanStatus.COMPLETED);
    // The workspace's own branch is untouched until the plan is merged.
    expect(t.git.read(t.root, 'main')).toEqual({ 'README.md': 'hello\n' });
    const { branchChanges } = await t.service.get(id);
    expect(branchChanges).toEqual({ headCommit: t.git.commitOfSync(t.root, branch.name), files: ['a.txt', 'b.txt', 'c.txt'], insertions: 3, deletions: 0 });
  });

  it('merges first come, first merged, one at a time per repository: a busy queue leaves the tasks MERGING for the next tick', async () => {
    const t = gitSetup(4, { tickQueueWaitMs: 20 });
    const id = await t.runPlan([taskSpec('b'), taskSpec('c')]);
    await t.scheduler.advance(id);
    const held = await t.locks.acquire(`git-merge:${t.root}`, { owner: 'a session merge', ttlMs: 60_000, waitTimeoutMs: 0 });
    t.finish('c', { 'c.txt': 'c\n' });
    await t.scheduler.advance(id);
    t.finish('b', { 'b.txt': 'b\n' });
    await t.scheduler.advance(id);
    expect([t.status(id, 'b'), t.status(id, 'c')]).toEqual([TaskStatus.MERGING, TaskStatus.MERGING]);
    expect(t.git.merges).toEqual([]);

    await t.locks.release(held);
    await t.scheduler.advance(id);
    expect(t.git.merges.map((m) => m.message.split(' ')[2])).toEqual(['c:', 'b:']);
    expect(await t.planStatus(id)).toBe(PlanStatus.COMPLETED);
  });

  it('merges every task waiting at a tick in one turn of the queue, in order, the branch moved once; a conflict in the middle does not hold up the rest', async () => {
    const t = gitSetup(4);
    const id = await t.runPlan([taskSpec('a'), taskSpec('b'), taskSpec('c'), taskSpec('d')]);
    const branch = await t.branchOf(id);
    await t.scheduler.advance(id);
    t.git.commit(t.root, branch.name, { 'shared.txt': 'on the branch\n' }); // b will conflict with it
    const acquire = jest.spyOn(t.locks, 'acquire');
    const series = jest.spyOn(t.git, 'mergeSeries');
    t.finish('c', { 'c.txt': 'c\n' });
    t.finish('b', { 'shared.txt': 'from b\n' });
    t.finish('a', { 'a.txt': 'a\n' });
    t.finish('d', { 'd.txt': 'd\n' });
    await t.scheduler.advance(id);

    expect(series).toHaveBeenCalledTimes(1);
    expect(acquire.mock.calls.filter(([resource]) => resource === `git-merge:${t.root}`)).toHaveLength(1);
    expect(t.git.merges.map((m) => m.message.split(' ')[2])).toEqual(['a:', 'b:', 'c:', 'd:']); // queued in key order at one tick
    expect([t.status(id, 'a'), t.status(id, 'b'), t.status(id, 'c'), t.status(id, 'd')]).toEqual([
      TaskStatus.COMPLETED,
      TaskStatus.RESOLVING,
      TaskStatus.COMPLETED,
      TaskStatus.COMPLETED,
    ]);
    // Each merged task's commit is its own merge, one on top of the other; the branch ends at the last.
    const [a, c, d] = ['a', 'c', 'd'].map((key) => t.repo.task(id, key).merge!.commit!);
    expect(new Set([a, c, d]).size).toBe(3);
    expect(d).toBe(t.git.commitOfSync(t.root, branch.name));
    expect(t.git.read(t.root, c)).toEqual({ 'README.md': 'hello\n', 'shared.txt': 'on the branch\n', 'a.txt': 'a\n', 'c.txt': 'c\n' });
    expect(t.git.read(t.root, branch.name)).toMatchObject({ 'a.txt': 'a\n', 'c.txt': 'c\n', 'd.txt': 'd\n', 'shared.txt': 'on the branch\n' });
  });

  it('merges a series one task at a time when git fails it, so that the failure lands on the task that caused it', async () => {
    const t = gitSetup(4);
    const id = await t.runPlan([taskSpec('a'), taskSpec('b')]);
    await t.scheduler.advance(id);
    t.finish('a', { 'a.txt': 'a\n' });
    t.finish('b', { 'b.txt': 'b\n' });
    const bad = t.sessions.sessions.get(t.sessions.of('b')[0].id)!;
    bad.changes = { ...bad.changes!, headCommit: 'f'.repeat(40) }; // a commit git does not have
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.COMPLETED });
    expect(t.repo.task(id, 'b')).toMatchObject({ status: TaskStatus.FAILED, error: { code: 'GIT_FAILED', message: expect.stringContaining('could not be merged') } });
  });

  it('waits while the integration branch is checked out with uncommitted changes, saying why', async () => {
    const t = gitSetup();
    const id = await t.runPlan([taskSpec('a')]);
    const branch = await t.branchOf(id);
    await t.scheduler.advance(id);
    t.git.dirty.set(branch.name, ['notes.txt']);
    t.finish('a', { 'a.txt': 'a\n' });
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.MERGING, error: { code: 'WORKSPACE_DIRTY', message: expect.stringContaining('notes.txt') } });
    t.git.dirty.clear();
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.COMPLETED, error: null });
  });

  it('gives a conflicting branch a resolver session (a DEBUGGER on the integration branch with the task branch merged in) and merges its result', async () => {
    const t = gitSetup();
    const id = await t.runPlan([taskSpec('a'), taskSpec('b'), taskSpec('after', ['b'])]);
    const branch = await t.branchOf(id);
    await t.scheduler.advance(id);
    t.finish('a', { 'shared.txt': 'from a\n' });
    await t.scheduler.advance(id);
    t.finish('b', { 'shared.txt': 'from b\n', 'b.txt': 'b\n' });
    await t.scheduler.advance(id);

    const [resolver, work] = t.sessions.of('b');
    expect(t.repo.task(id, 'b')).toMatchObject({ status: TaskStatus.RESOLVING, attempt: 1, sessionId: resolver.id, merge: { source: work.id, conflicts: ['shared.txt'] } });
    expect(t.repo.task(id, 'b').sessions.map((s) => [s.kind, s.role])).toEqual([
      ['TASK', 'IMPLEMENTER'],
      ['RESOLVER', 'DEBUGGER'],
    ]);
    expect(resolver.command).toMatchObject({
      role: 'DEBUGGER',
      origin: { planId: id, taskKey: 'b', retryOf: work.id },
      worktree: { baseRef: branch.name, mergeIn: work.changes!.branch },
    });
    for (const text of [branch.name, work.changes!.branch, 'shared.txt', 'instructions of b', '- a (do a)', 'Resolve every conflict marker']) expect(resolver.prompt).toContain(text);
    expect(t.sessions.of('after')).toEqual([]);

    t.sessions.finish(resolver.id, 'COMPLETED', { writes: { 'shared.txt': 'from a\nfrom b\n' } });
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'b')).toMatchObject({ status: TaskStatus.COMPLETED, result: { summary: 'b done' }, merge: { source: resolver.id } });
    expect(t.repo.task(id, 'b').usage?.inputTokens).toBe(20); // its session and the resolver's
    expect(t.git.read(t.root, branch.name)).toEqual({ 'README.md': 'hello\n', 'shared.txt': 'from a\nfrom b\n', 'b.txt': 'b\n' });
    expect(t.sessions.merged.map((m) => m.sessionId)).toEqual([t.sessions.of('a')[0].id, resolver.id, work.id]);
    expect(t.sessions.of('after')).toHaveLength(1);
  });

  it('ends a task CONFLICTED after MERGE_RESOLVER_TRIES resolvers, blocks its dependents, and lets independent branches finish', async () => {
    const t = gitSetup(4, { resolverTries: 2 });
    const id = await t.runPlan([taskSpec('a'), taskSpec('b'), taskSpec('b2', ['b']), taskSpec('c')]);
    await t.scheduler.advance(id);
    t.finish('a', { 'shared.txt': 'from a\n' });
    await t.scheduler.advance(id);
    t.finish('b', { 'shared.txt': 'from b\n' });
    await t.scheduler.advance(id);

    const first = t.sessions.of('b')[0];
    t.sessions.finish(first.id, 'FAILED', { error: { code: 'MERGE_CONFLICT_UNRESOLVED', message: 'conflict markers left in shared.txt' } });
    await t.scheduler.advance(id);
    // Its own branch went back to the queue, conflicted again, and got the next resolver.
    const second = t.sessions.of('b')[0];
    expect(second.id).not.toBe(first.id);
    expect(t.repo.task(id, 'b')).toMatchObject({ status: TaskStatus.RESOLVING, sessionId: second.id });

    t.sessions.finish(second.id, 'COMPLETED'); // committed nothing: resolved nothing
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'b')).toMatchObject({
      status: TaskStatus.CONFLICTED,
      error: { code: 'MERGE_CONFLICT', message: expect.stringMatching(/shared\.txt, still after 2 resolver sessions/) },
    });
    expect(t.repo.task(id, 'b').sessions.map((s) => s.kind)).toEqual(['TASK', 'RESOLVER', 'RESOLVER']);
    expect(t.status(id, 'b2')).toBe(TaskStatus.BLOCKED);
    expect(await t.planStatus(id)).toBe(PlanStatus.RUNNING); // c still runs

    t.finish('c', { 'c.txt': 'c\n' });
    await t.scheduler.advance(id);
    const plan = (await t.repo.findById(id))!.snapshot();
    expect(plan).toMatchObject({ status: PlanStatus.FAILED, error: { code: 'TASKS_FAILED' } });
    expect(plan.error?.message).toMatch(/conflicted: b; blocked: b2/);
    expect(t.git.read(t.root, plan.branch!.name)).toEqual({ 'README.md': 'hello\n', 'shared.txt': 'from a\n', 'c.txt': 'c\n' });
  });

  it("starts the Debugger's retry from the integration branch, naming the branch that holds the failed run's commits", async () => {
    const t = gitSetup();
    const id = await t.runPlan([taskSpec('a')]);
    const branch = await t.branchOf(id);
    await t.scheduler.advance(id);
    const failed = t.sessions.of('a')[0];
    t.sessions.finish(failed.id, 'FAILED', { error: { code: 'PROVIDER_ERROR', message: 'boom' }, writes: { 'half.txt': 'half\n' } });
    await t.scheduler.advance(id);
    const retry = t.sessions.of('a')[0];
    expect(retry.command).toMatchObject({ role: 'DEBUGGER', worktree: { baseRef: branch.name } });
    expect(retry.prompt).toContain(`The failed run's commits are on the branch ${failed.changes!.branch}`);
    t.finish('a', { 'a.txt': 'a\n' });
    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.COMPLETED, merge: { source: retry.id } });
  });

  it('completes a task whose merge happened but was not recorded (a crash) at the next tick, without merging twice', async () => {
    const t = gitSetup();
    const id = await t.runPlan([taskSpec('a')]);
    const branch = await t.branchOf(id);
    await t.scheduler.advance(id);
    t.finish('a', { 'a.txt': 'a\n' });
    const update = t.repo.updateTask.bind(t.repo);
    let crash = true;
    jest.spyOn(t.repo, 'updateTask').mockImplementation(async (x) => {
      if (crash && x.status === TaskStatus.COMPLETED) {
        crash = false;
        throw new Error('process died');
      }
      return update(x);
    });
    await expect(t.scheduler.advance(id)).rejects.toThrow('process died');
    expect(t.status(id, 'a')).toBe(TaskStatus.MERGING);
    const head = t.git.commitOfSync(t.root, branch.name);

    await t.scheduler.advance(id);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.COMPLETED, merge: { commit: head } });
    expect(t.git.commitOfSync(t.root, branch.name)).toBe(head);
    expect(t.git.merges).toHaveLength(2); // the second one up to date
  });

  it('cancel leaves unmerged branches unmerged: MERGING tasks and tasks whose session just committed are CANCELLED', async () => {
    const t = gitSetup(4, { tickQueueWaitMs: 20 });
    const id = await t.runPlan([taskSpec('queued'), taskSpec('committed'), taskSpec('reviewed', [], { role: 'REVIEWER' }), taskSpec('running')]);
    await t.scheduler.advance(id);
    const held = await t.locks.acquire(`git-merge:${t.root}`, { owner: 'someone', ttlMs: 60_000, waitTimeoutMs: 0 });
    t.finish('queued', { 'q.txt': 'q\n' });
    await t.scheduler.advance(id);
    t.finish('committed', { 'c.txt': 'c\n' });
    t.finish('reviewed');
    await t.service.cancel(id);
    expect([t.status(id, 'queued'), t.status(id, 'committed'), t.status(id, 'reviewed'), t.status(id, 'running')]).toEqual([
      TaskStatus.CANCELLED,
      TaskStatus.CANCELLED,
      TaskStatus.COMPLETED,
      TaskStatus.CANCELLED,
    ]);
    expect(t.sessions.cancels).toEqual([t.sessions.of('running')[0].id]);
    await t.locks.release(held);
    expect(t.git.merges).toEqual([]);
  });
});

describe('PlanService.merge', () => {
  async function finishedPlan() {
    const t = gitSetup();
    const id = await t.runPlan([taskSpec('a')]);
    await t.scheduler.advance(id);
    t.finish('a', { 'a.txt': 'a\n' });
    return { ...t, id, branch: await t.branchOf(id) };
  }

  it('merges a finished plan into the branch checked out at the top, in the merge queue; again: up to date', async () => {
    const t = await finishedPlan();
    await expect(t.service.merge(t.id, {})).rejects.toMatchObject({ code: 'PLAN_INVALID_STATE' }); // still RUNNING
    await t.scheduler.advance(t.id);
    const acquire = jest.spyOn(t.locks, 'acquire');

    const result = await t.service.merge(t.id, {});
    expect(result).toEqual({ commit: t.git.commitOfSync(t.root, 'main'), target: 'main', strategy: 'merge', status: 'merged' });
    expect(t.git.read(t.root, 'main')).toEqual({ 'README.md': 'hello\n', 'a.txt': 'a\n' });
    expect(t.git.merges.at(-1)).toMatchObject({ source: t.branch.name, target: 'main', message: `Merge plan ${t.id.slice(0, 8)} (${t.branch.name}): build the thing` });
    // The merge queue, and the top directory's workspace lock (no shared session writes there while the target moves).
    expect(acquire.mock.calls.map(([resource, options]) => [resource, options.owner])).toEqual([
      [`git-merge:${t.root}`, expect.stringMatching(/^plan-merge:/)],
      [`workspace:${t.root}`, expect.stringMatching(/^plan-merge:/)],
    ]);
    expect(await t.service.merge(t.id, {})).toMatchObject({ status: 'up-to-date', commit: result.commit });

    t.git.setBranch(t.root, 'release', t.initial);
    expect(await t.service.merge(t.id, { target: 'release', strategy: 'squash' })).toMatchObject({ status: 'merged', target: 'release', strategy: 'squash' });
    expect(t.git.read(t.root, 'release')).toEqual({ 'README.md': 'hello\n', 'a.txt': 'a\n' });
  });

  it('changes nothing on a conflict or a dirty target, and refuses a detached HEAD without target, a bad target, or a plan without a branch', async () => {
    const t = await finishedPlan();
    await t.scheduler.advance(t.id);
    t.git.dirty.set('main', ['README.md']);
    await expect(t.service.merge(t.id, {})).rejects.toMatchObject({ code: 'WORKSPACE_DIRTY', details: { files: ['README.md'], target: 'main' } });
    t.git.dirty.clear();

    const diverged = t.git.commit(t.root, 'main', { 'a.txt': 'not a\n' });
    await expect(t.service.merge(t.id, {})).rejects.toMatchObject({ code: 'MERGE_CONFLICT', details: { files: ['a.txt'], target: 'main', branch: t.branch.name } });
    expect(t.git.commitOfSync(t.root, 'main')).toBe(diverged);

    t.git.detach(t.root);
    await expect(t.service.merge(t.id, {})).rejects.toMatchObject({ code: 'MERGE_TARGET_INVALID' });
    await expect(t.service.merge(t.id, { target: 'nope' })).rejects.toMatchObject({ code: 'MERGE_TARGET_INVALID' });
    await expect(t.service.merge(t.id, { target: t.branch.name })).rejects.toMatchObject({ code: 'MERGE_TARGET_INVALID' });
    await expect(t.service.merge(t.id, { target: '-x' })).rejects.toMatchObject({ code: 'GIT_REF_INVALID' });

    const shared = setup();
    const id = await shared.runPlan([taskSpec('a')]);
    await shared.scheduler.advance(id);
    shared.complete('a');
    await shared.scheduler.advance(id);
    await expect(shared.service.merge(id, {})).rejects.toMatchObject({ code: 'PLAN_NOT_ISOLATED' });
    await expect(shared.service.merge('00000000-0000-4000-8000-00000000dead', {})).rejects.toMatchObject({ code: 'PLAN_NOT_FOUND' });
  });
});

describe('PlanScheduler with a plan budget', () => {
  const createPlan = async (t: ReturnType<typeof setup>, tasks: TaskSpec[], budget: unknown) =>
    (await t.service.create({ requirement: 'build the thing', workspace: tmpdir(), tasks, budget })).plan.id;

  it('gives the budget to the spending guard at creation and on every change, version-checked', async () => {
    const t = setup();
    const id = await createPlan(t, [taskSpec('a')], { maxCostUsd: 1 });
    expect(t.spending.limits.get(id)).toEqual({ maxCostUsd: 1 });
    await expect(t.service.updateBudget(id, 7, { maxCostUsd: 2 })).rejects.toMatchObject({ code: 'PLAN_VERSION_CONFLICT' });
    await expect(t.service.updateBudget(id, 1, { maxCostUsd: 0 })).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'budget.maxCostUsd' } });
    await expect(t.service.updateBudget(id, 1, undefined)).rejects.toMatchObject({ code: 'VALIDATION_FAILED', details: { field: 'budget' } });
    const updated = await t.service.updateBudget(id, 1, { maxCostUsd: 2, maxMinutes: 60 });
    expect(updated.plan.snapshot()).toMatchObject({ version: 2, budget: { maxCostUsd: 2, maxMinutes: 60 } });
    expect(t.spending.limits.get(id)).toEqual({ maxCostUsd: 2, maxMinutes: 60 });
    await t.service.updateBudget(id, 2, null);
    expect(t.spending.limits.get(id)).toBeNull();
  });

  it('pauses before a task whose forecast does not fit what is left, starts nothing more, and resumes on run once raised', async () => {
    const t = setup();
    // Priors: 0.05 USD per complexity point, 3 points: 0.15 per task.
    const id = await createPlan(t, [taskSpec('a'), taskSpec('b', ['a'])], { maxCostUsd: 0.2 });
    await t.service.run(id);
    await t.scheduler.advance(id);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['a']);
    t.spending.spent.set(id, { tokens: 100, costUsd: 0.1, minutes: 1 });
    t.complete('a');
    await t.scheduler.advance(id); // 0.15 > 0.2 - 0.1
    expect(t.status(id, 'a')).toBe(TaskStatus.COMPLETED);
    expect(t.status(id, 'b')).toBe(TaskStatus.PENDING);
    const paused = (await t.repo.findById(id))!.snapshot();
    expect(paused).toMatchObject({ status: PlanStatus.PAUSED, pausedReason: 'BUDGET' });
    expect(paused.pausedMessage).toMatch(/task b's forecast \(\$0\.150\) does not fit what is left of the plan's maxCostUsd \(\$0\.100\)/);
    await t.scheduler.advance(id);
    expect(t.sessions.created).toHaveLength(1);

    const detail = await t.service.get(id);
    expect(detail.spend.spent.costUsd).toBe(0.1);
    expect(detail.spend.forecast.costUsd).toBeCloseTo(0.15);
    expect(detail.spend.remaining!.maxCostUsd).toBeCloseTo(0.1);

    await t.service.updateBudget(id, paused.version, { maxCostUsd: 1 });
    expect(await t.planStatus(id)).toBe(PlanStatus.PAUSED);
    await t.service.run(id);
    expect((await t.repo.findById(id))!.snapshot()).toMatchObject({ status: PlanStatus.RUNNING, pausedReason: null, pausedMessage: null });
    await t.scheduler.advance(id);
    expect(t.status(id, 'b')).toBe(TaskStatus.RUNNING);
    t.complete('b');
    expect(await t.scheduler.advance(id)).toBe('finished');
    expect(await t.planStatus(id)).toBe(PlanStatus.COMPLETED);
  });

  it("counts the forecasts of the tasks it starts in the same tick, and forecasts from the routed agent's history", async () => {
    const t = setup();
    t.history.byRole.set('IMPLEMENTER', { agentId: 'impl', runs: 5, costUsdPerRun: 0.1, minutesPerRun: 2, meanComplexity: 3 });
    const id = await createPlan(t, [taskSpec('a'), taskSpec('b'), taskSpec('c')], { maxCostUsd: 0.25 });
    await t.service.run(id);
    await t.scheduler.advance(id);
    expect(t.sessions.created.map((s) => s.command.origin.taskKey)).toEqual(['a', 'b']);
    expect((await t.repo.findById(id))!.snapshot()).toMatchObject({ status: PlanStatus.PAUSED, pausedReason: 'BUDGET' });
    expect((await t.repo.findById(id))!.snapshot().pausedMessage).toMatch(/^task c's forecast/);
    expect(t.history.asked[0]).toEqual({ role: 'IMPLEMENTER', skills: ['typescript'], complexity: 3 });

    // Paused: the running tasks are settled, the plan finishes nothing new.
    expect(await t.repo.activePlanIds()).toEqual([id]);
    t.complete('a', 'b');
    await t.scheduler.advance(id);
    expect([t.status(id, 'a'), t.status(id, 'b'), t.status(id, 'c')]).toEqual([TaskStatus.COMPLETED, TaskStatus.COMPLETED, TaskStatus.PENDING]);
    expect(await t.repo.activePlanIds()).toEqual([]);
    expect(t.sessions.created).toHaveLength(2);
  });

  it('starts tasks as before without a budget', async () => {
    const t = setup();
    const id = await createPlan(t, [taskSpec('a'), taskSpec('b')], undefined);
    await t.service.run(id);
    await t.scheduler.advance(id);
    expect(t.sessions.created).toHaveLength(2);
    expect(t.spending.limits.has(id)).toBe(false);
  });

  it('does not retry a session stopped at the budget on the Debugger: the task goes back to PENDING and the plan pauses', async () => {
    const t = setup();
    const id = await createPlan(t, [taskSpec('a'), taskSpec('b', ['a'])], { maxCostUsd: 10 });
    await t.service.run(id);
    await t.scheduler.advance(id);
    const first = t.sessions.of('a')[0];
    t.sessions.finish(first.id, 'FAILED', { error: { code: 'BUDGET_EXCEEDED', message: "the plan's maxCostUsd is reached" } });
    await t.scheduler.advance(id);
    expect(t.sessions.created).toHaveLength(1); // no Debugger session
    expect(t.sessions.retries).toEqual([]);
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.PENDING, attempt: 0, sessionId: null, usage: { costUsd: 0.01 }, error: { code: 'BUDGET_EXCEEDED' } });
    const paused = (await t.repo.findById(id))!.snapshot();
    expect(paused).toMatchObject({ status: PlanStatus.PAUSED, pausedReason: 'BUDGET' });
    expect(paused.pausedMessage).toContain(`task a's session ${first.id} was stopped at the plan's budget`);

    await t.service.run(id);
    await t.scheduler.advance(id);
    const again = t.sessions.of('a')[0];
    expect(again.id).not.toBe(first.id);
    expect(again.command).toMatchObject({ role: 'IMPLEMENTER', origin: { retryOf: null } });
    expect(t.repo.task(id, 'a')).toMatchObject({ status: TaskStatus.RUNNING, attempt: 1, sessionId: again.id });
    expect(t.repo.task(id, 'a').sessions.map((s) => s.sessionId)).toEqual([first.id, again.id]);
  });

  it("holds a Debugger retry while paused, and checks the retry's forecast too", async () => {
    const t = setup();
    const id = await createPlan(t, [taskSpec('a'), taskSpec('b')], { maxCostUsd: 0.35 });
    await t.service.run(id);
    await t.scheduler.advance(id); // a and b: 0.15 each
    t.spending.spent.set(id, { tokens: 0, costUsd: 0.3, minutes: 0 });
    t.sessions.finish(t.sessions.of('a')[0].id, 'FAILED', { error: { code: 'PROVIDER_ERROR', message: 'boom' } });
    await t.scheduler.advance(id); // the retry's 0.15 > 0.05 left
    expect(t.sessions.created).toHaveLength(2);
    expect(await t.planStatus(id)).toBe(PlanStatus.PAUSED);
    expect(t.repo.task(id, 'a').status).toBe(TaskStatus.RUNNING);
    await t.scheduler.advance(id);
    expect(t.sessions.created).toHaveLength(2);

    const version = (await t.repo.findById(id))!.version;
    await t.service.updateBudget(id, version, { maxCostUsd: 1 });
    await t.service.run(id);
    await t.scheduler.advance(id);
    expect(t.sessions.of('a')[0].command.role).toBe('DEBUGGER');
    expect(t.repo.task(id, 'a').status).toBe(TaskStatus.RETRYING);
  });

  it('cancels a PAUSED plan and refuses to run a plan that is neither DRAFT nor PAUSED', async () => {
    const t = setup();
    const id = await createPlan(t, [taskSpec('a')], { maxTokens: 1 });
    await t.service.run(id);
    await t.scheduler.advance(id);
    expect(await t.planStatus(id)).toBe(PlanStatus.PAUSED);
    await t.service.cancel(id);
    expect(await t.planStatus(id)).toBe(PlanStatus.CANCELLED);
    await expect(t.service.run(id)).rejects.toMatchObject({ code: 'PLAN_INVALID_STATE' });
    await expect(t.service.updateBudget(id, (await t.repo.findById(id))!.version, { maxTokens: 5 })).rejects.toMatchObject({ code: 'PLAN_INVALID_STATE' });
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL_PLAN = ['COMPLETED', 'FAILED', 'CANCELLED'];

interface TaskInput {
  key: string;
  role?: string;
  instructions: string;
  dependsOn?: string[];
  skills?: string[];
}

const task = ({ key, role = 'IMPLEMENTER', instructions, dependsOn = [], skills }: TaskInput) => ({
  key,
  title: `task ${key}`,
  instructions,
  role,
  dependsOn,
  ...(skills && { skills }),
  estimateMinutes: 10,
});

/** Plans run through HTTP with the worker, the scheduler and the shared rehearsal `opencode serve`. */
describe('Plans (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_CONCURRENT_SESSIONS: '2' } });
  });
  afterAll(() => t.close());

  const workspace = () => makeTempWorkspace();
  const getPlan = async (id: string) => (await t.http.get(`/api/v1/plans/${id}`).expect(200)).body;
  const createPlan = async (tasks: unknown[], ws = workspace()) =>
    (await t.http.post('/api/v1/plans').send({ requirement: 'A small demo change', workspace: ws, tasks }).expect(201)).body;
  const runToEnd = async (id: string, timeoutMs = 90_000) => {
    await t.http.post(`/api/v1/plans/${id}/run`).expect(202);
    return waitFor(() => getPlan(id), (p) => FINAL_PLAN.includes(p.status), { timeoutMs, intervalMs: 500, what: `plan ${id} finished` });
  };
  const taskOf = (plan: any, key: string) => plan.tasks.find((x: any) => x.key === key);

  it('runs two parallel branches in dependency order to COMPLETED, with totals', async () => {
    const created = await createPlan([
      task({ key: 'design', role: 'ARCHITECT', instructions: 'Design it briefly.', skills: ['architecture'] }),
      task({ key: 'implA', instructions: '[[write a.ts]]export const a = 1;[[/write]]', dependsOn: ['design'] }),
      task({ key: 'implB', instructions: '[[write b.ts]]export const b = 2;[[/write]]', dependsOn: ['design'] }),
      task({ key: 'testA', instructions: '[[write a.test.ts]]// a[[/write]]', dependsOn: ['implA'] }),
      task({ key: 'testB', instructions: '[[write b.test.ts]]// b[[/write]]', dependsOn: ['implB'] }),
      task({ key: 'review', role: 'REVIEWER', instructions: '[[reply]]VERDICT: APPROVE\nQUALITY: 8/10[[/reply]]', dependsOn: ['testA', 'testB'], skills: ['code-review'] }),
    ]);
    expect(created).toMatchObject({ status: 'DRAFT', template: null, maxConcurrentSessions: 2, progress: { total: 6, percent: 0 } });
    expect(created.analysis.levels).toEqual([['design'], ['implA', 'implB'], ['testA', 'testB'], ['review']]);
    expect(created.criticalPath[0]).toBe('design');
    expect(created.analysis.minimumMinutes).toBe(40);

    const plan = await runToEnd(created.id);
    expect(plan.status).toBe('COMPLETED');
    expect(plan.progress).toMatchObject({ total: 6, percent: 100, byStatus: { COMPLETED: 6 } });
    const sessionOf = (key: string) => taskOf(plan, key).sessions[0];
    for (const x of plan.tasks) {
      expect(x).toMatchObject({ status: 'COMPLETED', attempt: 1, sessionIds: [x.sessionId] });
      expect(x.sessions).toHaveLength(1);
      expect(x.sessions[0]).toMatchObject({ status: 'COMPLETED', kind: 'TASK', role: x.role, agentId: expect.any(String) });
      expect(x.usage.totalTokens).toBeGreaterThan(0);
      // Never before every dependency finished.
      for (const dep of x.dependsOn) {
        expect(Date.parse(sessionOf(x.key).startedAt)).toBeGreaterThanOrEqual(Date.parse(sessionOf(dep).finishedAt));
      }
    }
    expect(taskOf(plan, 'implA').result.filesChanged).toEqual(['a.ts']);
    expect(plan.totals.totalTokens).toBe(plan.tasks.reduce((sum: number, x: any) => sum + x.usage.totalTokens, 0));
    expect(plan.totals.costUsd).toBeGreaterThan(0);

    // The dependents' prompts carry what their dependencies produced.
    const testA = (await t.http.get(`/api/v1/sessions/${sessionOf('testA').id}`).expect(200)).body;
    expect(testA.prompt).toContain('A small demo change');
    expect(testA.prompt).toContain('implA (task implA)');
    expect(testA.prompt).toContain('a.ts');
    expect(testA.origin).toEqual({ kind: 'plan', planId: plan.id, taskKey: 'testA', retryOf: null });
    expect(testA.metadata).toEqual({});

    expect((await t.http.post(`/api/v1/plans/${plan.id}/run`).expect(409)).body.code).toBe('PLAN_INVALID_STATE');
    expect((await t.http.post(`/api/v1/plans/${plan.id}/cancel`).expect(409)).body.code).toBe('PLAN_INVALID_STATE');
    const list = (await t.http.get('/api/v1/plans?limit=5').expect(200)).body.items;
    expect(list[0]).toMatchObject({ id: plan.id, status: 'COMPLETED' });
  });

  it('retries a failed task on the Debugger, then blocks its dependents and fails the plan while the independent branch completes', async () => {
    const created = await createPlan([
      task({ key: 'broken', instructions: 'Do it. [[fail: boom]]' }),
      task({ key: 'after', instructions: '[[write after.txt]]x[[/write]]', dependsOn: ['broken'] }),
      task({ key: 'later', instructions: '[[write later.txt]]x[[/write]]', dependsOn: ['after'] }),
      task({ key: 'independent', instructions: '[[write ok.txt]]ok[[/write]]' }),
    ]);
    const plan = await runToEnd(created.id);
    expect(plan.status).toBe('FAILED');
    expect(plan.error.code).toBe('TASKS_FAILED');
    const broken = taskOf(plan, 'broken');
    expect(broken).toMatchObject({ status: 'FAILED', attempt: 2 });
    expect(broken.sessions.map((s: any) => [s.kind, s.role, s.status])).toEqual([
      ['TASK', 'IMPLEMENTER', 'FAILED'],
      ['DEBUG_RETRY', 'DEBUGGER', 'FAILED'],
    ]);
    const retry = (await t.http.get(`/api/v1/sessions/${broken.sessions[1].id}`).expect(200)).body;
    expect(retry.assignment.role).toBe('DEBUGGER');
    expect(retry.origin).toEqual({ kind: 'plan', planId: plan.id, taskKey: 'broken', retryOf: broken.sessions[0].id });
    expect(retry.prompt).toMatch(/The failure \(code PROVIDER_ERROR\):\n<untrusted-output-[0-9a-f]+ source="error message of the failed run">\nboom/);
    expect(retry.prompt).toContain('Do it.');
    expect(taskOf(plan, 'after')).toMatchObject({ status: 'BLOCKED', sessions: [] });
    expect(taskOf(plan, 'later')).toMatchObject({ status: 'BLOCKED', sessions: [] });
    expect(taskOf(plan, 'independent').status).toBe('COMPLETED');
    expect(plan.progress.byStatus).toMatchObject({ COMPLETED: 1, FAILED: 1, BLOCKED: 2 });
  });

  it('cancel stops a running plan: its session CANCELLED, nothing more starts', async () => {
    const created = await createPlan([
      task({ key: 'slow', instructions: 'Take your time. [[slow 20]]' }),
      task({ key: 'next', instructions: '[[write next.txt]]x[[/write]]', dependsOn: ['slow'] }),
    ]);
    await t.http.post(`/api/v1/plans/${created.id}/run`).expect(202);
    const running = await waitFor(() => getPlan(created.id), (p) => taskOf(p, 'slow').sessions[0]?.status === 'RUNNING', { what: 'slow task running' });
    const sessionId = taskOf(running, 'slow').sessionId;

    const cancelled = (await t.http.post(`/api/v1/plans/${created.id}/cancel`).expect(202)).body;
    expect(cancelled.status).toBe('CANCELLED');
    expect(taskOf(cancelled, 'slow').status).toBe('CANCELLED');
    expect(taskOf(cancelled, 'next')).toMatchObject({ status: 'CANCELLED', sessions: [] });
    await waitFor(async () => (await t.http.get(`/api/v1/sessions/${sessionId}`)).body, (s) => s.status === 'CANCELLED', {
      timeoutMs: 15_000,
      what: 'the slow session cancelled',
    });
    await sleep(2_000); // a few scheduler ticks
    const after = await getPlan(created.id);
    expect(after.status).toBe('CANCELLED');
    expect(taskOf(after, 'next').sessions).toEqual([]);
  });

  it('400 for a cycle naming its tasks; decomposes a requirement with a template', async () => {
    const cyclic = await t.http
      .post('/api/v1/plans')
      .send({
        requirement: 'cyclic',
        workspace: workspace(),
        tasks: [task({ key: 'x', instructions: 'x', dependsOn: ['z'] }), task({ key: 'y', instructions: 'y', dependsOn: ['x'] }), task({ key: 'z', instructions: 'z', dependsOn: ['y'] })],
      })
      .expect(400);
    expect(cyclic.body.code).toBe('PLAN_INVALID');
    const cycle = cyclic.body.details.problems.find((p: any) => p.kind === 'CYCLE');
    expect([...cycle.tasks].sort()).toEqual(['x', 'y', 'z']);

    const missing = await t.http
      .post('/api/v1/plans')
      .send({ requirement: 'r', workspace: workspace(), tasks: [task({ key: 'a', instructions: 'a', dependsOn: ['nope'] })] })
      .expect(400);
    expect(missing.body.details.problems[0]).toMatchObject({ kind: 'MISSING_DEPENDENCY', tasks: ['a', 'nope'] });
    expect((await t.http.post('/api/v1/plans').send({ requirement: 'r', workspace: 'relative/dir' }).expect(400)).body.code).toBe('WORKSPACE_INVALID');
    expect((await t.http.post('/api/v1/plans').send({ requirement: 'r', workspace: workspace(), template: 'NOPE' }).expect(400)).body.code).toBe('VALIDATION_FAILED');

    const decomposed = (
      await t.http
        .post('/api/v1/plans')
        .send({ requirement: 'Build a CRUD REST API to create, list, update and delete orders in PostgreSQL', workspace: workspace(), template: 'CRUD' })
        .expect(201)
    ).body;
    expect(decomposed).toMatchObject({ status: 'DRAFT', template: 'CRUD', complexity: { score: expect.any(Number) } });
    expect(decomposed.tasks.length).toBeGreaterThan(2);
    expect(decomposed.tasks.every((x: any) => x.status === 'PENDING' && x.sessions.length === 0)).toBe(true);
    expect(decomposed.criticalPath.length).toBeGreaterThan(0);
    expect(decomposed.analysis.minimumMinutesWithAgents).toBeGreaterThanOrEqual(decomposed.analysis.minimumMinutes);
    expect((await t.http.get(`/api/v1/plans/${decomposed.id}`).expect(200)).body.id).toBe(decomposed.id);
    await t.http.delete(`/api/v1/plans/${decomposed.id}`).expect(204);
    expect((await t.http.get(`/api/v1/plans/${decomposed.id}`).expect(404)).body.code).toBe('PLAN_NOT_FOUND');
  });
});

describe('Plans across a restart (e2e)', () => {
  it('a plan left RUNNING by a closed app is resumed by a new one on the same database and completes', async () => {
    const env = { MAX_CONCURRENT_SESSIONS: '2' }; // the same database and queue prefix: the file's
    const ws = makeTempWorkspace();
    const first = await createTestApp({ env });
    let id: string;
    try {
      id = (
        await first.http
          .post('/api/v1/plans')
          .send({
            requirement: 'A small demo change',
            workspace: ws,
            tasks: [
              task({ key: 'one', instructions: '[[write one.txt]]1[[/write]]' }),
              task({ key: 'two', instructions: '[[write two.txt]]2[[/write]]', dependsOn: ['one'] }),
              task({ key: 'three', instructions: '[[write three.txt]]3[[/write]]', dependsOn: ['two'] }),
            ],
          })
          .expect(201)
      ).body.id;
      await first.http.post(`/api/v1/plans/${id}/run`).expect(202);
      await waitFor(async () => (await first.http.get(`/api/v1/plans/${id}`)).body, (p) => p.tasks[0].status === 'COMPLETED', { what: 'first task done' });
    } finally {
      await first.close();
    }
    const stopped = await (async () => {
      const second = await createTestApp({ env });
      try {
        return await waitFor(async () => (await second.http.get(`/api/v1/plans/${id}`)).body, (p) => FINAL_PLAN.includes(p.status), {
          timeoutMs: 60_000,
          intervalMs: 500,
          what: 'plan finished after the restart',
        });
      } finally {
        await second.close();
      }
    })();
    expect(stopped.status).toBe('COMPLETED');
    // Nothing was created or started twice: one session per task (a task whose session the close
    // interrupted, e.g. FAILED WORKER_LOST, gets its one Debugger retry on top).
    expect(stopped.tasks[0].sessions).toHaveLength(1);
    for (const x of stopped.tasks) expect(x.sessions.filter((s: any) => s.kind === 'TASK')).toHaveLength(1);
    expect(stopped.tasks.map((x: any) => x.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
  });
});

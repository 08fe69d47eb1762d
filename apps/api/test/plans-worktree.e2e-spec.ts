import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL_PLAN = ['COMPLETED', 'FAILED', 'CANCELLED'];

interface TaskInput {
  key: string;
  title?: string;
  instructions: string;
  dependsOn?: string[];
}

const task = ({ key, title = `task ${key}`, instructions, dependsOn = [] }: TaskInput) => ({
  key,
  title,
  instructions,
  role: 'IMPLEMENTER',
  dependsOn,
  estimateMinutes: 10,
});

/**
 * Plans in a git workspace: an integration branch per plan, each task on a branch of its own
 * made from it once its dependencies are merged, merged back through the repository's merge
 * queue, conflicts handed to a resolver session, and the plan merged into the workspace's branch
 * on request. Real git, real OpenCode with the scripted rehearsal provider.
 */
describe('Plans in a git workspace (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp({ env: { MAX_CONCURRENT_SESSIONS: '4' } });
  });
  afterAll(() => t.close());

  const repository = (files: Record<string, string>) => realpathSync(makeTempWorkspace({ git: true, files }));
  const getPlan = async (id: string) => (await t.http.get(`/api/v1/plans/${id}`).expect(200)).body;
  const getSession = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
  const createPlan = async (tasks: unknown[], workspace: string) =>
    (await t.http.post('/api/v1/plans').send({ requirement: 'A small demo change', workspace, tasks }).expect(201)).body;
  const finished = (id: string) => waitFor(() => getPlan(id), (p) => FINAL_PLAN.includes(p.status), { timeoutMs: 90_000, intervalMs: 500, what: `plan ${id} finished` });
  const runToEnd = async (id: string) => {
    await t.http.post(`/api/v1/plans/${id}/run`).expect(202);
    return finished(id);
  };
  const taskOf = (plan: any, key: string) => plan.tasks.find((x: any) => x.key === key);
  const branchName = (planId: string) => `orchestrator/plan-${planId.replace(/-/g, '').slice(0, 8)}`;
  const merge = (id: string, body: Record<string, unknown> = {}) => t.http.post(`/api/v1/plans/${id}/merge`).send(body);

  it('runs a diamond on branches of their own, the middle two at once, and the integration branch ends holding every task; then merges it into the workspace', async () => {
    const repo = repository({ 'README.md': 'hello\n' });
    const head = git(repo, 'rev-parse', 'HEAD');
    const created = await createPlan(
      [
        task({ key: 'a', instructions: '[[write a.txt]]a\n[[/write]]' }),
        task({ key: 'b', instructions: '[[slow 4]][[write b.txt]]b\n[[/write]]', dependsOn: ['a'] }),
        task({ key: 'c', instructions: '[[slow 4]][[write c.txt]]c\n[[/write]]', dependsOn: ['a'] }),
        task({ key: 'd', instructions: '[[write d.txt]]d\n[[/write]]', dependsOn: ['b', 'c'] }),
      ],
      repo,
    );
    expect(created.branch).toBeNull(); // made when it is run
    const plan = await runToEnd(created.id);
    expect(plan.status).toBe('COMPLETED');

    const name = branchName(plan.id);
    expect(plan.branch).toEqual({
      name,
      repository: repo,
      baseCommit: head,
      headCommit: git(repo, 'rev-parse', name),
      files: ['a.txt', 'b.txt', 'c.txt', 'd.txt'],
      insertions: 4,
      deletions: 0,
    });
    for (const file of ['a', 'b', 'c', 'd']) expect(git(repo, 'show', `${name}:${file}.txt`)).toBe(file);
    // The workspace's own branch and files are untouched until the plan is merged.
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(existsSync(join(repo, 'a.txt'))).toBe(false);

    const session = (key: string) => taskOf(plan, key).sessions[0];
    for (const x of plan.tasks) {
      expect(x).toMatchObject({ status: 'COMPLETED', merge: { source: x.sessionId, conflicts: [], commit: expect.any(String) } });
      expect(x.sessions.map((s: any) => s.kind)).toEqual(['TASK']);
      expect(x.sessions[0].changes).toMatchObject({ files: [`${x.key}.txt`], insertions: 1 });
      expect(git(repo, 'log', '--format=%s', name)).toContain(`Merge task ${x.key}: task ${x.key} (session ${x.sessionId})`);
    }
    // b and c ran at the same time (no workspace lock between worktree sessions).
    expect(Date.parse(session('b').startedAt)).toBeLessThan(Date.parse(session('c').finishedAt));
    expect(Date.parse(session('c').startedAt)).toBeLessThan(Date.parse(session('b').finishedAt));
    // d started once b and c were merged, from an integration branch holding both.
    for (const dep of ['b', 'c']) expect(Date.parse(session('d').startedAt)).toBeGreaterThanOrEqual(Date.parse(taskOf(plan, dep).merge.mergedAt));
    const dBase = session('d').changes.baseCommit;
    expect([git(repo, 'show', `${dBase}:b.txt`), git(repo, 'show', `${dBase}:c.txt`)]).toEqual(['b', 'c']);
    const dSession = await getSession(session('d').id);
    expect(dSession).toMatchObject({ isolation: 'worktree', worktree: { baseRef: name, state: 'MERGED', merge: { target: name } } });

    // Into the checked-out branch: refused (and nothing changed) while its work tree is dirty or it conflicts.
    writeFileSync(join(repo, 'README.md'), 'edited by a person\n');
    const dirty = (await merge(plan.id).expect(409)).body;
    expect(dirty).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { files: ['README.md'] } });
    git(repo, 'checkout', '--', 'README.md');
    writeFileSync(join(repo, 'a.txt'), 'not a\n');
    git(repo, 'add', 'a.txt');
    git(repo, 'commit', '-qm', 'a person wrote a.txt');
    const diverged = git(repo, 'rev-parse', 'HEAD');
    const conflict = (await merge(plan.id).expect(409)).body;
    expect(conflict).toMatchObject({ code: 'MERGE_CONFLICT', details: { files: ['a.txt'] } });
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(diverged);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    git(repo, 'reset', '-q', '--hard', head);

    const merged = (await merge(plan.id).expect(200)).body;
    expect(merged).toEqual({ commit: git(repo, 'rev-parse', 'HEAD'), target: git(repo, 'branch', '--show-current'), strategy: 'merge', status: 'merged' });
    expect(['a', 'b', 'c', 'd'].map((f) => readFileSync(join(repo, `${f}.txt`), 'utf8'))).toEqual(['a\n', 'b\n', 'c\n', 'd\n']);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect((await merge(plan.id).expect(200)).body).toMatchObject({ status: 'up-to-date', commit: merged.commit });

    git(repo, 'checkout', '-q', '--detach');
    expect((await merge(plan.id).expect(400)).body.code).toBe('MERGE_TARGET_INVALID');
    expect((await merge(plan.id, { strategy: 'octopus' }).expect(400)).body.code).toBe('VALIDATION_FAILED');
  });

  it('hands a conflicting branch to a resolver session, merges its resolution, and goes on with the dependents', async () => {
    const repo = repository({ 'shared.txt': 'base\n' });
    const created = await createPlan(
      [
        task({ key: 'first', instructions: '[[write shared.txt]]from first\n[[/write]]' }),
        task({ key: 'second', instructions: '[[slow 3]][[write shared.txt]]from second\n[[/write]]' }),
        task({ key: 'after', instructions: '[[write after.txt]]after\n[[/write]]', dependsOn: ['second'] }),
      ],
      repo,
    );
    await t.http.post(`/api/v1/plans/${created.id}/run`).expect(202);
    expect((await merge(created.id).expect(409)).body.code).toBe('PLAN_INVALID_STATE'); // still RUNNING
    const plan = await finished(created.id);
    expect(plan.status).toBe('COMPLETED');

    const name = branchName(plan.id);
    const second = taskOf(plan, 'second');
    expect(second.sessions.map((s: any) => [s.kind, s.role, s.status])).toEqual([
      ['TASK', 'IMPLEMENTER', 'COMPLETED'],
      ['RESOLVER', 'DEBUGGER', 'COMPLETED'],
    ]);
    const [work, resolver] = second.sessions;
    expect(second).toMatchObject({ status: 'COMPLETED', attempt: 1, merge: { source: resolver.id, conflicts: ['shared.txt'] } });
    const resolverSession = await getSession(resolver.id);
    expect(resolverSession.origin).toEqual({ kind: 'plan', planId: plan.id, taskKey: 'second', retryOf: work.id });
    expect(resolverSession.worktree).toMatchObject({ baseRef: name, mergeIn: work.changes.branch });
    for (const text of [name, work.changes.branch, 'shared.txt', 'Resolve every conflict marker', '- first (task first)']) expect(resolverSession.prompt).toContain(text);

    const resolved = git(repo, 'show', `${name}:shared.txt`);
    expect(resolved).not.toMatch(/^(<<<<<<<|=======|>>>>>>>)/m);
    expect(resolved).toBe('from second');
    expect(git(repo, 'show', `${name}:after.txt`)).toBe('after');
    expect(Date.parse(taskOf(plan, 'after').sessions[0].startedAt)).toBeGreaterThanOrEqual(Date.parse(second.merge.mergedAt));
  });

  it('ends a task it cannot resolve CONFLICTED, blocks its dependents, finishes the other branches, and the plan can still be merged', async () => {
    const repo = repository({ 'shared.txt': 'base\n' });
    const created = await createPlan(
      [
        // Its title reaches the resolver's prompt only (a merged task is listed there by title): the scripted model fails every resolver.
        task({ key: 'x', title: 'x [[fail: cannot resolve this]]', instructions: '[[write shared.txt]]from x\n[[/write]]' }),
        // y must merge after x (so that y is the one in conflict): its answer takes 15 s, x's none
        // (3 s was not always enough on a loaded machine: x's start can lag behind y's).
        task({ key: 'y', instructions: '[[slow 15]][[write shared.txt]]from y\n[[/write]]' }),
        task({ key: 'z', instructions: '[[write z.txt]]z\n[[/write]]', dependsOn: ['y'] }),
        task({ key: 'w', instructions: '[[write w.txt]]w\n[[/write]]' }),
      ],
      repo,
    );
    const plan = await runToEnd(created.id);
    expect(plan).toMatchObject({ status: 'FAILED', error: { code: 'TASKS_FAILED' } });
    expect(plan.error.message).toMatch(/conflicted: y; blocked: z/);
    expect(plan.progress.byStatus).toMatchObject({ COMPLETED: 2, CONFLICTED: 1, BLOCKED: 1 });

    const y = taskOf(plan, 'y');
    expect(y).toMatchObject({ status: 'CONFLICTED', error: { code: 'MERGE_CONFLICT' }, merge: { conflicts: ['shared.txt'], commit: null } });
    expect(y.error.message).toContain('shared.txt');
    expect(y.sessions.map((s: any) => [s.kind, s.status])).toEqual([
      ['TASK', 'COMPLETED'],
      ['RESOLVER', 'FAILED'],
      ['RESOLVER', 'FAILED'],
    ]);
    expect(taskOf(plan, 'z')).toMatchObject({ status: 'BLOCKED', sessions: [] });
    expect([taskOf(plan, 'x').status, taskOf(plan, 'w').status]).toEqual(['COMPLETED', 'COMPLETED']);

    const name = branchName(plan.id);
    expect(git(repo, 'show', `${name}:shared.txt`)).toBe('from x');
    expect(git(repo, 'show', `${name}:w.txt`)).toBe('w');
    const merged = (await merge(plan.id, { strategy: 'squash' }).expect(200)).body;
    expect(merged).toMatchObject({ status: 'merged', strategy: 'squash' });
    expect(readFileSync(join(repo, 'shared.txt'), 'utf8')).toBe('from x\n');
    expect(git(repo, 'log', '-1', '--format=%P', 'HEAD').split(' ')).toHaveLength(1);
  });

  it('keeps a plan outside git on the shared workspace, with no branch to merge', async () => {
    const plain = makeTempWorkspace();
    const plan = await runToEnd((await createPlan([task({ key: 'only', instructions: '[[write only.txt]]only\n[[/write]]' })], plain)).id);
    expect(plan).toMatchObject({ status: 'COMPLETED', branch: null });
    expect(taskOf(plan, 'only')).toMatchObject({ merge: null, sessions: [{ changes: null }] });
    expect(readFileSync(join(plain, 'only.txt'), 'utf8')).toBe('only\n');
    expect((await merge(plan.id).expect(409)).body.code).toBe('PLAN_NOT_ISOLATED');
    expect((await merge('00000000-0000-4000-8000-00000000dead').expect(404)).body.code).toBe('PLAN_NOT_FOUND');
  });
});

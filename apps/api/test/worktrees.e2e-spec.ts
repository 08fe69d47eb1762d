import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { git, makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Sessions on a git repository each work in a worktree of their own, on their own branch, at the
 * same time; their work is committed on the branch, shown as a diff, merged into the workspace's
 * branch (or refused without touching it), or discarded. Real git, real OpenCode.
 */
describe('Sessions in git worktrees', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
  const create = async (body: Record<string, unknown>) => (await t.http.post('/api/v1/sessions').send(body).expect(201)).body;
  const run = async (body: Record<string, unknown>) => {
    const { id } = await create(body);
    await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    return id as string;
  };
  const finished = (id: string, timeoutMs = 45_000) => waitFor(() => get(id), (s) => FINAL.includes(s.status), { timeoutMs, what: `session ${id} to end` });
  const repository = (files: Record<string, string> = { 'README.md': 'hello\n' }) => realpathSync(makeTempWorkspace({ git: true, files }));

  it('runs two sessions on one repository at once, each on its own branch, leaving the workspace untouched', async () => {
    const repo = repository();
    const head = git(repo, 'rev-parse', 'HEAD');
    const a = await run({ title: 'Add a', workspace: repo, prompt: '[[slow 4]][[write a.txt]]from a\n[[/write]]' });
    const b = await run({ title: 'Add b', workspace: repo, prompt: '[[slow 4]][[write b.txt]]from b\n[[/write]]' });
    // Both RUNNING at the same moment: no workspace lock between them.
    await waitFor(() => Promise.all([get(a), get(b)]), (both) => both.every((s) => s.status === 'RUNNING'), { what: 'both running at once' });
    const [doneA, doneB] = await Promise.all([finished(a), finished(b)]);
    expect([doneA.status, doneB.status]).toEqual(['COMPLETED', 'COMPLETED']);

    expect(doneA.isolation).toBe('worktree');
    expect(doneA.changes).toMatchObject({ baseCommit: head, files: ['a.txt'], insertions: 1, deletions: 0 });
    expect(doneA.changes.branch).toMatch(new RegExp(`^orchestrator/${a.replace(/-/g, '').slice(0, 8)}-add-a$`));
    expect(doneA.changes.headCommit).not.toBe(head);
    expect(doneB.changes).toMatchObject({ baseCommit: head, files: ['b.txt'] });
    expect(doneA.worktree).toMatchObject({ state: 'ACTIVE', repository: repo, subdirectory: '', merge: null });
    // Each branch holds its own file only; the workspace itself has neither and stays clean.
    expect(git(repo, 'show', `${doneA.changes.branch}:a.txt`)).toBe('from a');
    expect(() => git(repo, 'show', `${doneA.changes.branch}:b.txt`)).toThrow();
    expect(git(repo, 'show', `${doneB.changes.branch}:b.txt`)).toBe('from b');
    expect(existsSync(join(repo, 'a.txt')) || existsSync(join(repo, 'b.txt'))).toBe(false);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    // The commit names the session.
    expect(git(repo, 'log', '-1', '--format=%an <%ae>%n%B', doneA.changes.branch)).toContain(`Orchestrator-Session: ${a}`);
    expect(git(repo, 'log', '-1', '--format=%an <%ae>', doneA.changes.branch)).toBe('OpenCode Orchestrator <orchestrator@localhost>');
  });

  it('shows the diff as text and as JSON per file', async () => {
    const repo = repository({ 'src/keep.ts': 'export const a = 1;\nexport const b = 2;\n', 'old.txt': 'old\n' });
    const id = await run({
      title: 'Edit files',
      workspace: repo,
      prompt: '[[write src/keep.ts]]export const a = 1;\nexport const b = 3;\n[[/write]][[write new.md]]# new\n[[/write]]',
    });
    expect((await finished(id)).status).toBe('COMPLETED');
    const text = await t.http.get(`/api/v1/sessions/${id}/diff`).expect(200);
    expect(text.headers['content-type']).toMatch(/^text\/x-diff/);
    expect(text.text).toContain('diff --git a/src/keep.ts b/src/keep.ts');
    expect(text.text).toContain('-export const b = 2;');
    expect(text.text).toContain('+export const b = 3;');
    expect(text.text).toContain('+++ b/new.md');

    const files = (await t.http.get(`/api/v1/sessions/${id}/diff?format=json`).expect(200)).body as any[];
    const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
    expect(byPath['new.md']).toMatchObject({ status: 'added', insertions: 1, deletions: 0, binary: false });
    expect(byPath['src/keep.ts']).toMatchObject({ status: 'modified', insertions: 1, deletions: 1 });
    expect(byPath['src/keep.ts'].hunks[0].lines).toEqual(expect.arrayContaining(['-export const b = 2;', '+export const b = 3;']));
    await t.http.get(`/api/v1/sessions/${id}/diff?format=yaml`).expect(400);
  });

  it('merges a branch into the checked-out branch, answering with the commit, and deletes the branch', async () => {
    const repo = repository();
    const id = await run({ title: 'Feature', workspace: repo, prompt: '[[write feature.txt]]feature\n[[/write]]' });
    const done = await finished(id);
    const branch = done.changes.branch;
    const merged = (await t.http.post(`/api/v1/sessions/${id}/merge`).send({}).expect(200)).body;
    expect(merged).toMatchObject({ status: 'merged', target: git(repo, 'branch', '--show-current'), strategy: 'merge' });
    expect(merged.commit).toBe(git(repo, 'rev-parse', 'HEAD'));
    expect(git(repo, 'log', '-1', '--format=%P', 'HEAD').split(' ')).toHaveLength(2); // a merge commit
    expect(readFileSync(join(repo, 'feature.txt'), 'utf8')).toBe('feature\n');
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(git(repo, 'branch', '--list', branch)).toBe('');
    expect(merged.session.worktree).toMatchObject({ state: 'MERGED', merge: { target: merged.target, strategy: 'merge', commit: merged.commit } });
    // Merged once: a second merge and a discard are refused.
    expect((await t.http.post(`/api/v1/sessions/${id}/merge`).send({}).expect(409)).body.code).toBe('WORKTREE_GONE');
    expect((await t.http.post(`/api/v1/sessions/${id}/discard`).expect(409)).body.code).toBe('WORKTREE_GONE');
  });

  it('squashes or rebases when asked, into a target branch that is not checked out', async () => {
    const repo = repository();
    git(repo, 'branch', 'release');
    const squashed = await run({ title: 'Squash me', workspace: repo, prompt: '[[write s.txt]]s\n[[/write]]' });
    const rebased = await run({ title: 'Rebase me', workspace: repo, prompt: '[[write r.txt]]r\n[[/write]]' });
    await Promise.all([finished(squashed), finished(rebased)]);
    const s = (await t.http.post(`/api/v1/sessions/${squashed}/merge`).send({ target: 'release', strategy: 'squash' }).expect(200)).body;
    expect(git(repo, 'rev-parse', 'release')).toBe(s.commit);
    expect(git(repo, 'log', '-1', '--format=%P', 'release').split(' ')).toHaveLength(1);
    const r = (await t.http.post(`/api/v1/sessions/${rebased}/merge`).send({ target: 'release', strategy: 'rebase' }).expect(200)).body;
    expect(git(repo, 'rev-parse', 'release')).toBe(r.commit);
    expect(git(repo, 'show', 'release:s.txt')).toBe('s');
    expect(git(repo, 'show', 'release:r.txt')).toBe('r');
    expect(git(repo, 'log', '-1', '--format=%P', 'release')).toBe(s.commit); // replayed on top, no merge commit
    // The checked-out branch and the work tree were not touched.
    expect(existsSync(join(repo, 's.txt'))).toBe(false);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect((await t.http.post(`/api/v1/sessions/${squashed}/merge`).send({ target: 'no-such-branch' }).expect(409)).body.code).toBe('WORKTREE_GONE');
  });

  it('refuses a conflicting merge with 409 MERGE_CONFLICT naming the files, and leaves the workspace exactly as it was', async () => {
    const repo = repository({ 'shared.txt': 'base\n' });
    const first = await run({ title: 'One side', workspace: repo, prompt: '[[write shared.txt]]one\n[[/write]]' });
    const second = await run({ title: 'Other side', workspace: repo, prompt: '[[write shared.txt]]other\n[[/write]]' });
    await Promise.all([finished(first), finished(second)]);
    await t.http.post(`/api/v1/sessions/${first}/merge`).send({}).expect(200);
    const head = git(repo, 'rev-parse', 'HEAD');
    const refused = (await t.http.post(`/api/v1/sessions/${second}/merge`).send({}).expect(409)).body;
    expect(refused).toMatchObject({ statusCode: 409, code: 'MERGE_CONFLICT', details: { files: ['shared.txt'] } });
    expect(refused.message).toContain('shared.txt');
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(git(repo, 'status', '--porcelain')).toBe('');
    expect(readFileSync(join(repo, 'shared.txt'), 'utf8')).toBe('one\n');
    expect(existsSync(join(repo, '.git', 'MERGE_HEAD'))).toBe(false);
    expect((await get(second)).worktree.state).toBe('ACTIVE'); // still there to resolve or discard
  });

  it('refuses to merge into a dirty work tree with 409 WORKSPACE_DIRTY, changing nothing', async () => {
    const repo = repository();
    const id = await run({ title: 'Clean me', workspace: repo, prompt: '[[write c.txt]]c\n[[/write]]' });
    await finished(id);
    writeFileSync(join(repo, 'README.md'), 'edited by a person\n');
    const head = git(repo, 'rev-parse', 'HEAD');
    const refused = (await t.http.post(`/api/v1/sessions/${id}/merge`).send({}).expect(409)).body;
    expect(refused).toMatchObject({ code: 'WORKSPACE_DIRTY', details: { files: ['README.md'] } });
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(head);
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).toBe('edited by a person\n');
    expect(existsSync(join(repo, 'c.txt'))).toBe(false);
  });

  it('discards a branch', async () => {
    const repo = repository();
    const id = await run({ title: 'Throw away', workspace: repo, prompt: '[[write junk.txt]]junk\n[[/write]]' });
    const done = await finished(id);
    const discarded = (await t.http.post(`/api/v1/sessions/${id}/discard`).expect(200)).body;
    expect(discarded.worktree.state).toBe('DISCARDED');
    expect(git(repo, 'branch', '--list', done.changes.branch)).toBe('');
    expect((await t.http.post(`/api/v1/sessions/${id}/retry`).expect(409)).body.code).toBe('INVALID_TRANSITION');
  });

  it('continues on the same branch when a session is retried', async () => {
    const repo = repository();
    // The timeout leaves room for the write on a loaded machine; the slow answer outlives it anyway.
    const id = await run({ title: 'Half done', workspace: repo, timeoutSeconds: 12, prompt: '[[write part1.txt]]1\n[[/write]][[slow 60]]' });
    const first = await finished(id);
    expect(first.status).toBe('TIMED_OUT');
    expect(first.changes.files).toEqual(['part1.txt']); // what the turn wrote before the timeout is kept
    await t.http.post(`/api/v1/sessions/${id}/retry`).expect(202);
    const second = await finished(id);
    expect(second.attempt).toBe(2);
    expect(second.changes.branch).toBe(first.changes.branch);
    expect(second.changes.baseCommit).toBe(first.changes.baseCommit);
    expect(git(repo, 'show', `${second.changes.branch}:part1.txt`)).toBe('1');
    expect(git(repo, 'log', '--format=%s', `${first.changes.baseCommit}..${second.changes.branch}`).split('\n')).toContain('Half done');
  });

  it('shares a workspace without git, or when asked, and refuses a worktree where there is no git', async () => {
    const plain = makeTempWorkspace();
    expect((await create({ title: 'plain', workspace: plain, prompt: 'p' })).isolation).toBe('shared');
    const refused = (await t.http.post('/api/v1/sessions').send({ title: 'x', workspace: plain, prompt: 'p', isolation: 'worktree' }).expect(400)).body;
    expect(refused.code).toBe('WORKSPACE_NOT_GIT');
    const repo = repository();
    const shared = await run({ title: 'in place', workspace: repo, prompt: '[[write here.txt]]here\n[[/write]]', isolation: 'shared' });
    const done = await finished(shared);
    expect(done).toMatchObject({ status: 'COMPLETED', isolation: 'shared', changes: null, worktree: null });
    expect(readFileSync(join(repo, 'here.txt'), 'utf8')).toBe('here\n');
    const noDiff = await t.http.get(`/api/v1/sessions/${shared}/diff`).expect(409).expect('content-type', /json/);
    expect(noDiff.body.code).toBe('NO_WORKTREE');
    const bad = (await t.http.post('/api/v1/sessions').send({ title: 'x', workspace: repo, prompt: 'p', baseRef: 'no-such-ref' }).expect(400)).body;
    expect(bad).toMatchObject({ code: 'ISOLATION_INVALID', details: { field: 'baseRef' } });
    expect((await t.http.post('/api/v1/sessions').send({ title: 'x', workspace: repo, prompt: 'p', baseRef: '--upload-pack=x' }).expect(400)).body.code).toBe('GIT_REF_INVALID');
  });

  it('makes a branch from baseRef, and works in the workspace subdirectory inside the worktree', async () => {
    const repo = repository({ 'pkg/app/index.ts': 'v1\n' });
    const first = git(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'pkg/app/index.ts'), 'v2\n');
    git(repo, 'commit', '-qam', 'v2');
    const id = await run({ title: 'From v1', workspace: join(repo, 'pkg/app'), baseRef: first, prompt: '[[write note.txt]]n\n[[/write]]' });
    const done = await finished(id);
    expect(done.changes).toMatchObject({ baseCommit: first, files: ['pkg/app/note.txt'] });
    expect(done.worktree).toMatchObject({ subdirectory: 'pkg/app', baseRef: first });
    expect(git(repo, 'show', `${done.changes.branch}:pkg/app/index.ts`)).toBe('v1');
  });

  it('fails a run whose work git cannot commit with WORKTREE_FAILED, and the next run gets a clean slot', async () => {
    const repo = repository();
    // A nested repository without a commit: `git add` refuses it, so the work cannot be committed.
    const stuck = await run({ title: 'Nested repo', workspace: repo, prompt: '[[bash]]mkdir -p nested && git -C nested init -q && echo x > nested/f[[/bash]]' });
    const failed = await finished(stuck);
    expect(failed.status).toBe('FAILED');
    expect(failed.error.code).toBe('WORKTREE_FAILED');
    expect(failed.error.message).toMatch(/could not be committed/);
    const next = await finished(await run({ title: 'After it', workspace: repo, prompt: '[[write ok.txt]]ok\n[[/write]]' }));
    expect(next.status).toBe('COMPLETED');
    expect(next.changes.files).toEqual(['ok.txt']);
  });
});

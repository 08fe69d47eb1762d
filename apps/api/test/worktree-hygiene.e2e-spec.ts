import { existsSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorktreeJanitor } from '@app/session';
import { git, makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { testWorktreesDir } from '../../../test/support/test-file';
import { waitFor } from '../../../test/support/wait';
import { startWorkerProcess } from '../../../test/support/worker-process';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];
const HOUR = 3600_000;

/**
 * What is left behind is cleaned up: branches of deleted sessions, branches nobody merged after
 * WORKTREE_RETENTION_HOURS, idle slots, a merge a crash interrupted; and a worker killed between
 * its turn and its commit loses nothing.
 */
describe('Worktree hygiene and crashes', () => {
  const shared = { WORKER_LEASE_SECONDS: '2', WORKTREE_RETENTION_HOURS: '1' };
  let t: TestApp;
  let janitor: WorktreeJanitor;
  beforeAll(async () => {
    t = await createTestApp({ env: shared });
    janitor = t.app.get(WorktreeJanitor);
  });
  afterAll(() => t.close());

  const get = async (id: string) => (await t.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
  const run = async (workspace: string, prompt: string, title = 'hygiene') => {
    const { id } = (await t.http.post('/api/v1/sessions').send({ title, workspace, prompt }).expect(201)).body;
    await t.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    return waitFor(() => get(id), (s) => FINAL.includes(s.status), { timeoutMs: 45_000, what: `session ${id}` });
  };
  const repository = () => realpathSync(makeTempWorkspace({ git: true, files: { 'README.md': 'x\n' } }));
  const branches = (repo: string) => git(repo, 'branch', '--list', 'orchestrator/*', '--format=%(refname:short)').split('\n').filter(Boolean);

  it("deletes a deleted session's branch, expires unmerged branches after the retention time, and removes idle slots", async () => {
    const repo = repository();
    const kept = await run(repo, '[[write kept.txt]]k[[/write]]', 'kept');
    const deleted = await run(repo, '[[write gone.txt]]g[[/write]]', 'deleted');
    await t.http.delete(`/api/v1/sessions/${deleted.id}`).expect(204);
    expect(branches(repo).sort()).toEqual([kept.changes.branch, deleted.changes.branch].sort());

    const now = await janitor.sweep();
    expect(now.deletedBranches).toEqual([`${repo}:${deleted.changes.branch}`]);
    expect(branches(repo)).toEqual([kept.changes.branch]);
    expect(now.expired).toEqual([]);
    expect(now.bytes).toBeGreaterThan(0);

    const slotsHome = readdirSync(testWorktreesDir()).map((d) => join(testWorktreesDir(), d));
    const slots = slotsHome.flatMap((home) => readdirSync(home).filter((n) => /^slot-\d+$/.test(n)).map((n) => join(home, n)));
    expect(slots.length).toBeGreaterThan(0);

    const later = await janitor.sweep(new Date(Date.now() + 2 * HOUR));
    expect(later.expired).toEqual([kept.id]);
    expect(branches(repo)).toEqual([]);
    expect((await get(kept.id)).worktree.state).toBe('EXPIRED');
    expect(later.removedSlots).toEqual(expect.arrayContaining(slots));
    for (const slot of slots) expect(existsSync(slot)).toBe(false);
    expect(git(repo, 'worktree', 'list', '--porcelain')).not.toContain('slot-');
    expect(git(repo, 'status', '--porcelain')).toBe('');
  });

  it('finishes or drops a merge a crash interrupted (its journal left in the repository)', async () => {
    const repo = repository();
    const session = await run(repo, '[[write merged.txt]]m[[/write]]', 'to merge');
    const target = git(repo, 'branch', '--show-current');
    const before = git(repo, 'rev-parse', 'HEAD');
    // The state a worker killed after writing the journal but before moving the target leaves.
    const journal = join(repo, '.git', 'orchestrator-merge.json');
    writeFileSync(journal, JSON.stringify({ target, previous: before, next: session.changes.headCommit, worktree: repo, at: new Date().toISOString() }));
    await janitor.sweep();
    expect(existsSync(journal)).toBe(false);
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(before); // dropped: the target never moved
    expect(git(repo, 'status', '--porcelain')).toBe('');
    // The merge itself still works afterwards.
    const merged = (await t.http.post(`/api/v1/sessions/${session.id}/merge`).send({}).expect(200)).body;
    expect(git(repo, 'rev-parse', 'HEAD')).toBe(merged.commit);
  });

  it('removes the slots of a repository that vanished', async () => {
    const repo = repository();
    await run(repo, '[[write v.txt]]v[[/write]]');
    const homes = () => readdirSync(testWorktreesDir()).filter((d) => d.startsWith(`${repo.split('/').pop()}-`));
    expect(homes()).toHaveLength(1);
    rmSync(repo, { recursive: true, force: true });
    await janitor.sweep();
    expect(homes()).toEqual([]);
  });

  it('reports the disk the worktrees use in /health/ready and /metrics', async () => {
    await run(repository(), '[[write d.txt]]d[[/write]]');
    await janitor.sweep();
    const ready = (await t.http.get('/health/ready').expect(200)).body;
    expect(ready.details.worktrees).toMatchObject({ status: 'up', directory: realpathSync(testWorktreesDir()), bytes: expect.any(Number) });
    expect(ready.details.worktrees.bytes).toBeGreaterThan(0);
    const metrics = (await t.http.get('/metrics').expect(200)).text;
    expect(metrics).toMatch(/^orchestrator_worktrees_disk_bytes [1-9]\d*$/m);
  });
});

/** Its own apps: no other worker in the file may pick the run up before the doomed one. */
describe('A worker killed during a worktree run', () => {
  const shared = { WORKER_LEASE_SECONDS: '2' };
  const repository = () => realpathSync(makeTempWorkspace({ git: true, files: { 'README.md': 'x\n' } }));

  it('loses nothing when the worker is killed between the turn and its commit: the next worker commits the work on the branch', async () => {
    const api = await createTestApp({ withWorker: false, env: shared });
    const get = async (id: string) => (await api.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
    const doomed = startWorkerProcess({ ...shared, LOG_LEVEL: 'log' });
    await doomed.ready;
    const repo = repository();
    const { id } = (await api.http.post('/api/v1/sessions').send({ title: 'survives', workspace: repo, prompt: '[[write saved.txt]]saved\n[[/write]][[slow 6]]' }).expect(201)).body;
    await api.http.post(`/api/v1/sessions/${id}/start`).expect(202);
    // The file is written in the slot (not yet committed) while the turn's answer is still streaming.
    const running = await waitFor(() => get(id), (s) => s.status === 'RUNNING' && s.opencodeSessionId !== null, { what: 'the turn to start' });
    const slots = () => readdirSync(testWorktreesDir()).flatMap((home) => readdirSync(join(testWorktreesDir(), home)).map((n) => join(testWorktreesDir(), home, n, 'saved.txt')));
    await waitFor(async () => slots().some((f) => existsSync(f)), Boolean, { what: 'the file in the slot' });
    expect(doomed.output()).toContain(`Run of session ${id}`);
    await doomed.kill('SIGKILL');
    expect(git(repo, 'rev-parse', running.changes.branch)).toBe(running.changes.baseCommit); // nothing committed yet
    // Another worker resumes the run in the same slot and commits when the turn ends.
    const rescuer = await createTestApp({ env: shared });
    const done = await waitFor(() => get(id), (s) => FINAL.includes(s.status), { timeoutMs: 60_000, what: 'the resumed run' });
    expect(done.status).toBe('COMPLETED');
    expect(done.changes.files).toEqual(['saved.txt']);
    expect(git(repo, 'show', `${done.changes.branch}:saved.txt`)).toBe('saved');
    await rescuer.close();
    await api.close();
  });
});

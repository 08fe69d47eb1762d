import { existsSync, mkdirSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace } from '@app/testing';
import { createTestApp, TestApp } from '../../../test/support/app';
import { waitFor } from '../../../test/support/wait';

const FINAL = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * WORKSPACE_ROOTS through the real API and worker: what a caller may name as a workspace, and
 * the worker's second look right before the agent starts.
 */
describe('Workspaces confined to WORKSPACE_ROOTS', () => {
  const base = realpathSync(makeTempWorkspace());
  const root = join(base, 'root');
  const sibling = join(base, 'sibling');
  let t: TestApp;

  beforeAll(async () => {
    for (const dir of [join(root, 'project'), join(root, 'other'), sibling]) mkdirSync(dir, { recursive: true });
    symlinkSync(sibling, join(root, 'escape'));
    t = await createTestApp({ env: { WORKSPACE_ROOTS: root } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(base, { recursive: true, force: true });
  });

  const createSession = (workspace: string) =>
    t.http.post('/api/v1/sessions').send({ title: 'ws', prompt: '[[write out.txt]]x[[/write]]', workspace });

  it.each([
    ['/', 'FILESYSTEM_ROOT'],
    ['/etc', 'OUTSIDE_ROOTS'],
    ['a symlink out of the root', 'OUTSIDE_ROOTS'],
    ['.. out of the root', 'OUTSIDE_ROOTS'],
    ['a sibling of the root', 'OUTSIDE_ROOTS'],
    ["the orchestrator's own directory", 'FORBIDDEN'],
  ])('refuses %s as a session workspace (400 WORKSPACE_OUTSIDE_ROOTS, %s)', async (what, reason) => {
    const path = {
      '/': '/',
      '/etc': '/etc',
      'a symlink out of the root': join(root, 'escape'),
      '.. out of the root': `${root}/project/../../sibling`,
      'a sibling of the root': sibling,
      // Refused as such, whatever the roots say.
      "the orchestrator's own directory": t.config.orchestratorHome,
    }[what]!;
    const res = await createSession(path);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'WORKSPACE_OUTSIDE_ROOTS', details: { field: 'workspace', reason } });
    expect(res.body.message).toContain(path);
  });

  it('refuses them for plans too, and accepts a directory inside the root, storing its resolved path', async () => {
    const plan = await t.http.post('/api/v1/plans').send({ requirement: 'Add a health endpoint', workspace: sibling });
    expect(plan.status).toBe(400);
    expect(plan.body.code).toBe('WORKSPACE_OUTSIDE_ROOTS');

    const res = await createSession(`${root}/other/../project`);
    expect(res.status).toBe(201);
    expect(res.body.workspace).toBe(join(root, 'project'));
  });

  it('checks again before the run: a workspace swapped for a symlink out of the root fails and nothing is written', async () => {
    const victim = join(root, 'victim');
    mkdirSync(victim);
    const created = await createSession(victim);
    expect(created.status).toBe(201);
    // After creation, the directory is replaced by a symlink to a place outside the roots.
    rmSync(victim, { recursive: true });
    symlinkSync(sibling, victim);

    await t.http.post(`/api/v1/sessions/${created.body.id}/start`).expect(202);
    const done = await waitFor(
      async () => (await t.http.get(`/api/v1/sessions/${created.body.id}`)).body,
      (s) => FINAL.includes(s.status),
      { timeoutMs: 30_000, what: 'the session to end' },
    );
    expect(done.status).toBe('FAILED');
    expect(done.error.code).toBe('WORKSPACE_OUTSIDE_ROOTS');
    expect(done.error.message).toContain(sibling);
    expect(done.opencodeSessionId).toBeNull();
    expect(readdirSync(sibling)).toEqual([]);
    expect(existsSync(join(sibling, 'out.txt'))).toBe(false);
  });
});

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempWorkspace } from '@app/testing';
import { WorkspaceErrorCode } from '../domain/workspace.errors';
import { GitCliAdapter } from './git-cli.adapter';

/** Real git on real repositories; the hostile ones try to make the orchestrator's git run a script. */
describe('GitCliAdapter (real git)', () => {
  const git = new GitCliAdapter();
  const author = { name: 'Orchestrator', email: 'orchestrator@example.invalid' };
  const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

  function repository(files: Record<string, string> = { 'README.md': 'hello\n' }): string {
    return realpathSync(makeTempWorkspace({ files, git: true }));
  }

  /** A script that leaves `marker` behind when anything runs it. */
  function trap(dir: string, marker: string): string {
    const script = join(dir, 'trap.sh');
    writeFileSync(script, `#!/bin/sh\ntouch ${marker}\ncat\n`);
    chmodSync(script, 0o755);
    return script;
  }

  it('finds the top of a work tree from inside it, and nothing outside one', async () => {
    const repo = repository({ 'src/a.txt': 'a\n' });
    expect(await git.workTreeRoot(repo)).toBe(repo);
    expect(await git.workTreeRoot(join(repo, 'src'))).toBe(repo);
    expect(await git.workTreeRoot(realpathSync(makeTempWorkspace()))).toBeNull();
  });

  it('runs a branch in its own worktree: commit, changes, diff, then removal', async () => {
    const repo = repository();
    const base = await git.commitOf(repo, 'HEAD');
    expect(base).toMatch(/^[0-9a-f]{40}$/);
    const tree = join(realpathSync(makeTempWorkspace()), 'slot-1');
    await git.addWorktree(repo, tree, 'orchestrator/1a2b3c4d-demo', base);
    expect(sh(tree, 'branch', '--show-current')).toBe('orchestrator/1a2b3c4d-demo');

    expect(await git.commitAll(tree, 'nothing yet', author)).toBeNull();
    writeFileSync(join(tree, 'README.md'), 'hello\nworld\n');
    mkdirSync(join(tree, 'docs'));
    writeFileSync(join(tree, 'docs', 'new.md'), 'one\ntwo\n');
    const head = await git.commitAll(tree, 'demo (session 1a2b3c4d)', author);
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    expect(sh(tree, 'log', '-1', '--format=%an <%ae>|%s')).toBe('Orchestrator <orchestrator@example.invalid>|demo (session 1a2b3c4d)');
    expect(sh(repo, 'status', '--porcelain')).toBe(''); // the user's checkout is untouched

    expect(await git.changes(repo, base, head!)).toEqual({ files: ['README.md', 'docs/new.md'], insertions: 3, deletions: 0 });
    const diff = await git.diff(repo, base, head!);
    expect(diff).toContain('+++ b/docs/new.md');
    expect(diff).toContain('+world');

    await git.removeWorktree(repo, tree, 'orchestrator/1a2b3c4d-demo');
    expect(existsSync(tree)).toBe(false);
    expect(sh(repo, 'branch', '--list', 'orchestrator/*')).toBe('');
  });

  it('refuses names git would read as options or ranges, before running git', async () => {
    const repo = repository();
    await expect(git.commitOf(repo, '--output=/tmp/x')).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
    await expect(git.addWorktree(repo, join(repo, '..', 'wt'), '-b', 'HEAD')).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
    await expect(git.diff(repo, 'HEAD..x', 'HEAD')).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
    await expect(git.addWorktree(repo, 'relative/path', 'b', 'HEAD')).rejects.toMatchObject({ code: WorkspaceErrorCode.WORKSPACE_INVALID });
  });

  it('reports a git failure with its code and git’s message', async () => {
    const repo = repository();
    await expect(git.commitOf(repo, 'no-such-branch')).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_FAILED, message: expect.stringContaining('resolve no-such-branch') });
  });

  it('never runs a hook the repository holds', async () => {
    const repo = repository();
    const marker = join(repo, '..', `hooked-${process.pid}`);
    for (const hook of ['pre-commit', 'commit-msg', 'post-commit', 'post-checkout']) {
      const path = join(repo, '.git', 'hooks', hook);
      writeFileSync(path, `#!/bin/sh\ntouch ${marker}\n`);
      chmodSync(path, 0o755);
    }
    const tree = join(realpathSync(makeTempWorkspace()), 'wt');
    await git.addWorktree(repo, tree, 'orchestrator/hooks', await git.commitOf(repo, 'HEAD'));
    writeFileSync(join(tree, 'a.txt'), 'a\n');
    expect(await git.commitAll(tree, 'with hooks around', author)).toMatch(/^[0-9a-f]{40}$/);
    expect(existsSync(marker)).toBe(false);
  });

  it.each([
    ['a clean filter', (script: string) => ['filter.evil.clean', script], '* filter=evil\n'],
    ['a textconv diff driver', (script: string) => ['diff.evil.textconv', script], '* diff=evil\n'],
    ['an fsmonitor', (script: string) => ['core.fsmonitor', script], ''],
    ['a hooks path', (script: string) => ['core.hooksPath', join(script, '..')], ''],
    ['an include', (script: string) => ['include.path', join(script, '..', 'other.config')], ''],
  ])('refuses a repository whose config sets %s, and runs nothing', async (_what, setting, attributes) => {
    const repo = repository();
    const marker = join(repo, '..', `trapped-${process.pid}-${Math.random().toString(36).slice(2)}`);
    const script = trap(join(repo, '..'), marker);
    const [key, value] = setting(script);
    sh(repo, 'config', key, value);
    if (attributes) writeFileSync(join(repo, '.gitattributes'), attributes);
    writeFileSync(join(repo, 'README.md'), 'changed by the agent\n');

    const refused = expect.objectContaining({ code: WorkspaceErrorCode.GIT_REPOSITORY_UNSAFE, details: { keys: [key.toLowerCase()] } }); // git lists section and key names in lower case
    await expect(git.commitAll(repo, 'x', author)).rejects.toEqual(refused);
    await expect(git.diff(repo, 'HEAD', 'HEAD')).rejects.toEqual(refused);
    expect(existsSync(marker)).toBe(false);
  });
});

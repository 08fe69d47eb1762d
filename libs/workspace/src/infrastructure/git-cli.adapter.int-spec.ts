import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, unlinkSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { makeTempWorkspace } from '@app/testing';
import type { GitMergeRequest } from '../application/git.port';
import { WorkspaceErrorCode } from '../domain/workspace.errors';
import { GitCliAdapter } from './git-cli.adapter';
import { CheckedGit } from './hardened-git';

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

  it('checks a config again once it was written, though it was found safe before (the check is cached by file stamp)', async () => {
    const repo = repository();
    const tree = join(realpathSync(makeTempWorkspace()), 'slot-0');
    await git.addDetachedWorktree(repo, tree, await git.commitOf(repo, 'HEAD'));
    expect(await git.dirtyFiles(tree)).toEqual([]); // safe, and remembered
    const marker = join(repo, 'ran');
    // What an agent in the slot could do: write the repository's shared config.
    sh(repo, 'config', 'filter.trap.clean', trap(repo, marker));
    await expect(git.dirtyFiles(tree)).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REPOSITORY_UNSAFE });
    await expect(git.commitAll(tree, 'm', author)).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REPOSITORY_UNSAFE });
    expect(existsSync(marker)).toBe(false);
  });

  it("names the branch checked out at a work tree's top, and none on a detached HEAD", async () => {
    const repo = repository();
    expect(await git.checkedOutBranch(repo)).toBe(sh(repo, 'branch', '--show-current'));
    sh(repo, 'checkout', '-q', '--detach');
    expect(await git.checkedOutBranch(repo)).toBeNull();
  });

  it('says a directory outside any work tree is in none, and fails rather than answer null when git cannot tell', async () => {
    expect(await git.workTreeRoot(realpathSync(makeTempWorkspace()))).toBeNull();
    const repo = repository();
    expect(await git.workTreeRoot(join(repo, '.git'))).toBeNull(); // inside the git directory: no work tree
    expect(await git.hasCommit(repo)).toBe(true);
    const empty = realpathSync(makeTempWorkspace());
    sh(empty, 'init', '-q');
    expect(await git.workTreeRoot(empty)).toBe(empty);
    expect(await git.hasCommit(empty)).toBe(false);
    await expect(git.workTreeRoot(join(repo, 'no-such-dir'))).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_FAILED });
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
    await expect(git.diffFiles(repo, 'HEAD', 'HEAD')).rejects.toEqual(refused);
    await expect(git.resetSlot(repo, { message: 'x', author })).rejects.toEqual(refused);
    await expect(git.merge(repo, { source: 'HEAD', target: 'main', strategy: 'merge', message: 'x', author })).rejects.toEqual(refused);
    await expect(git.recoverMerge(repo)).rejects.toEqual(refused);
    expect(existsSync(marker)).toBe(false);
  });
});

/** Worktrees, slots, merges and diffs on real repositories; the crash tests kill git halfway. */
describe('GitCliAdapter: slots, merges and diffs (real git)', () => {
  const git = new GitCliAdapter();
  const author = { name: 'Orchestrator', email: 'orchestrator@example.invalid' };
  const sh = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
  const failsWith = (code: WorkspaceErrorCode, ...words: string[]) =>
    expect.objectContaining({ code, message: expect.stringMatching(new RegExp(words.map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('.*'))) });

  /** A repository on `main` with one commit of `files`. */
  function repository(files: Record<string, string> = { 'README.md': 'hello\n' }): string {
    const repo = realpathSync(makeTempWorkspace({ files, git: true }));
    sh(repo, 'branch', '-M', 'main');
    return repo;
  }

  /** Writes (or, for null, deletes) files in `worktree` and commits them all; the new commit. */
  function commit(worktree: string, files: Record<string, string | Buffer | null>, message = 'change'): string {
    for (const [path, content] of Object.entries(files)) {
      if (content === null) rmSync(join(worktree, path), { force: true });
      else {
        mkdirSync(join(worktree, path, '..'), { recursive: true });
        writeFileSync(join(worktree, path), content);
      }
    }
    sh(worktree, 'add', '-A');
    sh(worktree, '-c', 'user.name=Someone', '-c', 'user.email=someone@example.invalid', 'commit', '-q', '--allow-empty', '-m', message);
    return sh(worktree, 'rev-parse', 'HEAD');
  }

  /** A new branch `name` off `from` with `files` (null: deleted) committed on it, by Someone; its commit. */
  function branch(repo: string, name: string, from: string, files: Record<string, string | null>, message = `${name} work`): string {
    const stream: Buffer[] = [];
    const line = (text: string) => stream.push(Buffer.from(`${text}\n`));
    const data = (content: string) => (line(`data ${Buffer.byteLength(content)}`), line(content));
    line(`commit refs/heads/${name}`);
    line('author Someone <someone@example.invalid> 1700000000 +0000');
    line('committer Someone <someone@example.invalid> 1700000000 +0000');
    data(message);
    line(`from ${from}`);
    for (const [path, content] of Object.entries(files)) {
      if (content === null) line(`D ${path}`);
      else (line(`M 100644 inline ${path}`), data(content));
    }
    execFileSync('git', ['fast-import', '--quiet'], { cwd: repo, input: Buffer.concat(stream) });
    return sh(repo, 'rev-parse', name);
  }

  const parents = (repo: string, ref: string) => sh(repo, 'rev-list', '--parents', '-n', '1', ref).split(' ').slice(1);
  const show = (repo: string, ref: string, path: string) => sh(repo, 'show', `${ref}:${path}`);
  const slotPath = () => join(realpathSync(makeTempWorkspace()), 'slot');

  /**
   * A node process that loads the adapter as `git` (compiled by @swc/core as it is required, as
   * jest's transform does: ts-node would take a second per process) and `args` from JSON, then runs
   * `body` (a script) on a line of input; `ready` once it waits for that line.
   */
  function adapterProcess(children: Set<ChildProcess>, body: string, args: object): { child: ChildProcess; ready: Promise<void> } {
    const root = join(__dirname, '..', '..', '..', '..');
    const code = `
      const { transformSync } = require('@swc/core');
      const { readFileSync } = require('node:fs');
      require.extensions['.ts'] = (module, filename) => {
        const options = { filename, module: { type: 'commonjs' }, jsc: { parser: { syntax: 'typescript', decorators: true }, target: 'es2022' } };
        module._compile(transformSync(readFileSync(filename, 'utf8'), options).code, filename);
      };
      const { GitCliAdapter } = require(${JSON.stringify(join(__dirname, 'git-cli.adapter.ts'))});
      const args = JSON.parse(process.argv[1]);
      const git = new GitCliAdapter();
      process.stdin.once('data', async () => { ${body} });
      process.stdout.write('ready\\n');`;
    const child = spawn(process.execPath, ['-r', 'tsconfig-paths/register', '-e', code, JSON.stringify(args)], {
      cwd: root,
      env: { ...AppConfig.fromEnvironment().processEnvironment, TS_NODE_PROJECT: join(root, 'tsconfig.json') },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.add(child);
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the adapter's process exited (${code}) before it was ready`)));
    });
    ready.catch(() => undefined); // one killed before anyone waited for it is no failure
    return { child, ready };
  }

  describe('worktrees and branches', () => {
    it('adds a detached slot worktree, lists and prunes worktrees, names the common git directory', async () => {
      const repo = repository();
      const base = sh(repo, 'rev-parse', 'HEAD');
      const slot = slotPath();
      await git.addDetachedWorktree(repo, slot, base);
      expect(sh(slot, 'rev-parse', 'HEAD')).toBe(base);
      expect(sh(slot, 'branch', '--show-current')).toBe('');
      expect(await git.listWorktrees(repo)).toEqual([
        { path: repo, head: base, branch: 'main' },
        { path: slot, head: base, branch: null },
      ]);
      expect(await git.commonDir(repo)).toBe(join(repo, '.git'));
      expect(await git.commonDir(slot)).toBe(join(repo, '.git'));

      await expect(git.addDetachedWorktree(repo, slot, base)).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, slot));
      await expect(git.addDetachedWorktree(repo, slotPath(), 'no-such-commit')).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'no-such-commit'));
      await expect(git.addDetachedWorktree(repo, slotPath(), '--orphan')).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
      await expect(git.addDetachedWorktree(repo, 'relative', base)).rejects.toMatchObject({ code: WorkspaceErrorCode.WORKSPACE_INVALID });

      rmSync(slot, { recursive: true, force: true });
      await git.pruneWorktrees(repo);
      expect((await git.listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
    });

    it('creates, finds, lists by prefix and deletes branches', async () => {
      const repo = repository();
      const base = sh(repo, 'rev-parse', 'HEAD');
      expect(await git.branchExists(repo, 'orchestrator/plan-1a2b3c4d')).toBe(false);
      await git.createBranch(repo, 'orchestrator/plan-1a2b3c4d', base);
      await git.createBranch(repo, 'orchestrator/1a2b3c4d-fix', base);
      await git.createBranch(repo, 'orchestratorx', base);
      expect(await git.branchExists(repo, 'orchestrator/plan-1a2b3c4d')).toBe(true);
      expect(sh(repo, 'rev-parse', 'orchestrator/plan-1a2b3c4d')).toBe(base);
      expect(await git.listBranches(repo, 'orchestrator/')).toEqual(['orchestrator/1a2b3c4d-fix', 'orchestrator/plan-1a2b3c4d']);
      expect(await git.listBranches(repo, 'orchestrator/plan-')).toEqual(['orchestrator/plan-1a2b3c4d']);
      expect(await git.listBranches(repo, 'nothing/')).toEqual([]);

      await expect(git.createBranch(repo, 'orchestrator/plan-1a2b3c4d', base)).rejects.toEqual(
        failsWith(WorkspaceErrorCode.GIT_FAILED, 'orchestrator/plan-1a2b3c4d', 'already exists'),
      );
      await expect(git.createBranch(repo, 'other', 'f'.repeat(40))).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'other'));
      await expect(git.createBranch(repo, '-D', base)).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });

      await git.deleteBranch(repo, 'orchestrator/plan-1a2b3c4d');
      await git.deleteBranch(repo, 'orchestrator/plan-1a2b3c4d'); // already gone: fine
      expect(await git.branchExists(repo, 'orchestrator/plan-1a2b3c4d')).toBe(false);
      await expect(git.deleteBranch(repo, 'main')).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'delete the branch main'));
      expect(await git.branchExists(repo, 'main')).toBe(true);
    });

    it('lists the dirty files of a worktree, untracked ones in new directories included, ignored ones not', async () => {
      const repo = repository({ 'a.txt': 'a\n', 'gone.txt': 'x\n', '.gitignore': 'build/\n' });
      expect(await git.dirtyFiles(repo)).toEqual([]);
      writeFileSync(join(repo, 'a.txt'), 'changed\n');
      sh(repo, 'rm', '-q', 'gone.txt');
      mkdirSync(join(repo, 'new dir', 'deeper'), { recursive: true });
      writeFileSync(join(repo, 'new dir', 'deeper', '-rf'), 'x\n');
      mkdirSync(join(repo, 'build'));
      writeFileSync(join(repo, 'build', 'out.js'), 'x\n');
      expect((await git.dirtyFiles(repo)).sort()).toEqual(['a.txt', 'gone.txt', 'new dir/deeper/-rf']);
      writeFileSync(join(repo, '.git', 'index.lock'), ''); // someone's git holds the index: reading the status still works
      expect(await git.dirtyFiles(repo)).toHaveLength(3);
    });
  });

  describe('slots', () => {
    /** A repository with a detached slot at its first commit. */
    async function withSlot(files?: Record<string, string>): Promise<{ repo: string; slot: string; base: string }> {
      const repo = repository(files);
      const base = sh(repo, 'rev-parse', 'HEAD');
      const slot = slotPath();
      await git.addDetachedWorktree(repo, slot, base);
      return { repo, slot, base };
    }
    const leftovers = { message: 'Recovered leftovers\n', author };

    it('commits what a lost worker left on the slot’s branch, then leaves the slot clean and detached', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n', '.gitignore': 'cache/\n' });
      expect(await git.switchSlot(slot, 'orchestrator/s1', base)).toEqual({ created: true });
      writeFileSync(join(slot, 'a.txt'), 'changed by the turn\n');
      writeFileSync(join(slot, 'new.txt'), 'new\n');
      mkdirSync(join(slot, 'cache'));
      writeFileSync(join(slot, 'cache', 'x'), 'ignored\n');
      mkdirSync(join(slot, 'cache', 'nested'));
      sh(join(slot, 'cache', 'nested'), 'init', '-q');
      const gitDir = sh(slot, 'rev-parse', '--absolute-git-dir');
      // The worker was killed inside git (add, commit): its locks stay.
      writeFileSync(join(gitDir, 'index.lock'), '');
      writeFileSync(join(gitDir, 'HEAD.lock'), '');
      writeFileSync(join(repo, '.git', 'refs', 'heads', 'orchestrator', 's1.lock'), '');

      const { recovered } = await git.resetSlot(slot, leftovers);
      expect(recovered).toMatch(/^[0-9a-f]{40}$/);
      expect(sh(repo, 'rev-parse', 'orchestrator/s1')).toBe(recovered);
      expect(sh(repo, 'log', '-1', '--format=%an|%s', 'orchestrator/s1')).toBe('Orchestrator|Recovered leftovers');
      expect(show(repo, 'orchestrator/s1', 'a.txt')).toBe('changed by the turn');
      expect(show(repo, 'orchestrator/s1', 'new.txt')).toBe('new');
      expect(sh(slot, 'branch', '--show-current')).toBe('');
      expect(sh(slot, 'status', '--porcelain', '--ignored')).toBe('');
      expect(existsSync(join(slot, 'cache'))).toBe(false);
      expect(execFileSync('find', [join(repo, '.git'), '-name', '*.lock'], { encoding: 'utf8' })).toBe('');
    });

    it('concludes a merge a worker left in progress as a two-parent commit', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n' });
      const other = branch(repo, 'other', base, { 'a.txt': 'theirs\n' });
      await git.switchSlot(slot, 'orchestrator/s1', base);
      commit(slot, { 'a.txt': 'ours\n' });
      expect((await git.mergeIntoSlot(slot, 'other', 'Merge other')).conflicts).toEqual(['a.txt']);

      const { recovered } = await git.resetSlot(slot, leftovers);
      expect(parents(repo, recovered!)).toEqual([expect.any(String), other]);
      expect(show(repo, recovered!, 'a.txt')).toContain('<<<<<<< ');
      expect(sh(slot, 'status', '--porcelain')).toBe('');
      expect(existsSync(join(sh(slot, 'rev-parse', '--absolute-git-dir'), 'MERGE_HEAD'))).toBe(false);
    });

    it('discards what a detached slot holds (untracked files at reset, tracked changes at the forced switch), and recovers nothing from a clean branch', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n' });
      writeFileSync(join(slot, 'a.txt'), 'stray\n');
      writeFileSync(join(slot, 'stray.txt'), 'stray\n');
      expect(await git.resetSlot(slot, leftovers)).toEqual({ recovered: null });
      expect(existsSync(join(slot, 'stray.txt'))).toBe(false);
      expect(await git.switchSlot(slot, 'orchestrator/s0', base)).toEqual({ created: true });
      expect(sh(slot, 'status', '--porcelain', '--ignored')).toBe('');
      expect(readFileSync(join(slot, 'a.txt'), 'utf8')).toBe('a\n');
      expect(sh(repo, 'rev-parse', 'orchestrator/s0')).toBe(base);
      await git.detachSlot(slot);

      await git.switchSlot(slot, 'orchestrator/s1', base);
      expect(await git.resetSlot(slot, leftovers)).toEqual({ recovered: null });
      expect(sh(repo, 'rev-parse', 'orchestrator/s1')).toBe(base);
      expect(sh(slot, 'branch', '--show-current')).toBe('');
    });

    it('switches a slot to an existing branch, and refuses one checked out in another worktree', async () => {
      const { repo, slot, base } = await withSlot();
      const work = branch(repo, 'orchestrator/s1', base, { 'b.txt': 'b\n' });
      expect(await git.switchSlot(slot, 'orchestrator/s1', base)).toEqual({ created: false });
      expect(sh(slot, 'rev-parse', 'HEAD')).toBe(work);
      expect(readFileSync(join(slot, 'b.txt'), 'utf8')).toBe('b\n');

      const second = slotPath();
      await git.addDetachedWorktree(repo, second, base);
      await expect(git.switchSlot(second, 'orchestrator/s1', base)).rejects.toEqual(
        failsWith(WorkspaceErrorCode.GIT_FAILED, 'orchestrator/s1', `checked out in the worktree ${slot}`),
      );
      await expect(git.switchSlot(second, 'main', base)).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'main', repo));
      await expect(git.switchSlot(second, 'orchestrator/s2', 'f'.repeat(40))).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_FAILED });

      await git.detachSlot(slot); // frees the branch, keeps the files
      expect(readFileSync(join(slot, 'b.txt'), 'utf8')).toBe('b\n');
      expect(sh(slot, 'branch', '--show-current')).toBe('');
      expect(await git.switchSlot(second, 'orchestrator/s1', base)).toEqual({ created: false });
      expect(sh(second, 'rev-parse', 'HEAD')).toBe(work);
    });

    describe('what a killed worker leaves in another slot', () => {
      /** Slot `lost` on the branch orchestrator/s1 with a commit `work` on it, and a detached slot `next` to run the branch again. */
      async function lostAndNext(): Promise<{ repo: string; lost: string; next: string; base: string; work: string }> {
        const { repo, slot: lost, base } = await withSlot({ 'a.txt': 'a\n' });
        await git.switchSlot(lost, 'orchestrator/s1', base);
        const work = commit(lost, { 'b.txt': 'committed by the turn\n' });
        const next = slotPath();
        await git.addDetachedWorktree(repo, next, base);
        return { repo, lost, next, base, work };
      }

      it('gives the branch to the next slot once the lost slot is reset: its uncommitted work and killed git’s locks included', async () => {
        const { repo, lost, next, base, work } = await lostAndNext();
        // Killed mid-turn, inside git add: the branch stays checked out there, with the work and the locks.
        writeFileSync(join(lost, 'c.txt'), 'uncommitted work of the turn\n');
        const gitDir = sh(lost, 'rev-parse', '--absolute-git-dir');
        writeFileSync(join(gitDir, 'index.lock'), '');
        writeFileSync(join(gitDir, 'HEAD.lock'), '');
        await expect(git.switchSlot(next, 'orchestrator/s1', base)).rejects.toEqual(
          failsWith(WorkspaceErrorCode.GIT_FAILED, 'could not check out orchestrator/s1', `checked out in the worktree ${lost}`),
        );
        await expect(git.switchSlot(next, 'orchestrator/s1', base)).rejects.toMatchObject({ details: { branch: 'orchestrator/s1', worktree: lost } });

        const { recovered } = await git.resetSlot(lost, leftovers);
        expect(parents(repo, recovered!)).toEqual([work]);
        expect(await git.switchSlot(next, 'orchestrator/s1', base)).toEqual({ created: false });
        expect(sh(next, 'rev-parse', 'HEAD')).toBe(recovered);
        expect(readFileSync(join(next, 'b.txt'), 'utf8')).toBe('committed by the turn\n');
        expect(readFileSync(join(next, 'c.txt'), 'utf8')).toBe('uncommitted work of the turn\n');
      });

      it('creates the branch in the next slot though a `checkout -b` killed in the lost slot left its ref locked', async () => {
        const { repo, next, base } = await lostAndNext();
        // Killed while it created the branch: the ref's lock stays, the branch was never made, HEAD never moved.
        writeFileSync(join(repo, '.git', 'refs', 'heads', 'orchestrator', 's2.lock'), '');
        expect(await git.switchSlot(next, 'orchestrator/s2', base)).toEqual({ created: true });
        expect(sh(next, 'branch', '--show-current')).toBe('orchestrator/s2');
        expect(sh(repo, 'rev-parse', 'orchestrator/s2')).toBe(base);
      });

      it('forgets a slot whose directory went while it had the branch, and checks the branch out in the next slot', async () => {
        const { repo, lost, next, base, work } = await lostAndNext();
        // Killed while its slot was removed (janitor) or made again (prepare): before git forgot the worktree.
        rmSync(lost, { recursive: true, force: true });
        expect(await git.switchSlot(next, 'orchestrator/s1', base)).toEqual({ created: false });
        expect(sh(next, 'rev-parse', 'HEAD')).toBe(work);
        expect((await git.listWorktrees(repo)).map((w) => w.path)).toEqual([repo, next]);
      });

      describe('a worker running the branch, killed at random moments', () => {
        const children = new Set<ChildProcess>();
        afterEach(() => children.forEach((child) => child.kill('SIGKILL')));

        /** Runs after runs in `slot` as WorktreeSlots does (ready, switch, the turn writes a file, settle), saying each file it wrote. */
        const runs = `
          const { writeFileSync } = require('node:fs');
          const author = { name: 'Killed', email: 'killed@example.invalid' };
          for (let i = 0; ; i++) {
            await git.resetSlot(args.slot, { message: 'Recovered leftovers', author });
            await git.switchSlot(args.slot, args.branch, args.base);
            writeFileSync(args.slot + '/file-' + args.round + '-' + i + '.txt', 'x'.repeat(1000));
            process.stdout.write('wrote file-' + args.round + '-' + i + '.txt\\n');
            await git.settleSlot(args.slot, { branch: args.branch, message: 'run ' + i, author, base: args.base });
          }`;

        it('lets the next slot check the branch out with all the work, once the killed worker’s slot is readied', async () => {
          const { repo, slot: lost, base } = await withSlot({ 'a.txt': 'a\n' });
          const next = slotPath();
          await git.addDetachedWorktree(repo, next, base);
          const branchName = 'orchestrator/s1';
          const ROUNDS = 10;
          const worker = (round: number) => adapterProcess(children, runs, { slot: lost, branch: branchName, base, round });
          const written = new Set<string>();
          let refused = 0;
          let pending = worker(0);
          for (let round = 0; round < ROUNDS; round++) {
            const { child, ready } = pending;
            await ready;
            let wrote: () => void;
            const firstWritten = new Promise<void>((resolve) => (wrote = resolve));
            child.stdout!.on('data', (data: Buffer) => {
              data.toString().match(/file-\d+-\d+\.txt/g)?.forEach((file) => written.add(file));
              wrote();
            });
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.stdin!.write('go\n');
            if (round + 1 < ROUNDS) pending = worker(round + 1); // loads meanwhile
            // Half the rounds at any moment of a later run, the other half while the turn's file is being committed.
            await firstWritten;
            await new Promise((resolve) => setTimeout(resolve, Math.random() * (round % 2 ? 400 : 15)));
            child.kill('SIGKILL');
            await exited;
            children.delete(child);

            // The next run, in the other slot: the killed worker's slot is readied first when it has the branch (its lock is free).
            if ((await git.listWorktrees(repo)).some((w) => w.path === lost && w.branch === branchName)) {
              refused++;
              await expect(git.switchSlot(next, branchName, base)).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'could not check out', lost));
              await git.resetSlot(lost, leftovers);
            }
            await git.resetSlot(next, leftovers);
            await git.switchSlot(next, branchName, base);
            for (const file of written) expect(existsSync(join(next, file))).toBe(true);
            await git.settleSlot(next, { branch: branchName, message: 'next run', author, base });
          }
          expect(refused).toBeGreaterThan(0); // the killed worker left the branch checked out at least once
        }, 120_000);
      });

      it('forgets a half-removed slot (its .git file gone), but never one a worktree still has, nor a locked one', async () => {
        const { repo, lost, next, base, work } = await lostAndNext();
        const locked = slotPath();
        await git.addDetachedWorktree(repo, locked, base);
        await git.switchSlot(locked, 'orchestrator/s2', base);
        sh(repo, 'worktree', 'lock', locked);
        rmSync(locked, { recursive: true, force: true });
        await expect(git.switchSlot(next, 'orchestrator/s2', base)).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'orchestrator/s2', locked));

        rmSync(join(lost, '.git'));
        expect(await git.switchSlot(next, 'orchestrator/s1', base)).toEqual({ created: false });
        expect(sh(next, 'rev-parse', 'HEAD')).toBe(work);
        expect((await git.listWorktrees(repo)).map((w) => w.path).sort()).toEqual([repo, next, locked].sort());
      });
    });

    it('settles a run: commits every change on the branch, detaches the slot with the files kept, counts the changes since the base', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n' });
      await git.switchSlot(slot, 'orchestrator/s1', base);
      writeFileSync(join(slot, 'a.txt'), 'a\nb\n');
      mkdirSync(join(slot, 'new dir'));
      writeFileSync(join(slot, 'new dir', 'c.txt'), 'c\n');
      const work = { branch: 'orchestrator/s1', message: 'demo (session 1a2b3c4d)\n\nOrchestrator-Session: 1a2b3c4d', author, base };

      const settled = await git.settleSlot(slot, work);
      expect(settled).toEqual({ committed: expect.stringMatching(/^[0-9a-f]{40}$/), head: settled.committed, changes: { files: ['a.txt', 'new dir/c.txt'], insertions: 2, deletions: 0 } });
      expect(sh(repo, 'rev-parse', 'orchestrator/s1')).toBe(settled.head);
      expect(parents(repo, settled.head)).toEqual([base]);
      expect(sh(repo, 'log', '-1', '--format=%an <%ae>|%B', settled.head)).toBe('Orchestrator <orchestrator@example.invalid>|demo (session 1a2b3c4d)\n\nOrchestrator-Session: 1a2b3c4d');
      expect(sh(slot, 'branch', '--show-current')).toBe('');
      expect(sh(slot, 'status', '--porcelain')).toBe('');
      expect(readFileSync(join(slot, 'new dir', 'c.txt'), 'utf8')).toBe('c\n');

      // A run that changed nothing: no commit, the branch's head and its changes all the same.
      await git.switchSlot(slot, 'orchestrator/s1', base);
      expect(await git.settleSlot(slot, work)).toEqual({ committed: null, head: settled.head, changes: settled.changes });
    });

    it('commits nothing when the turn left the slot on another branch or detached, saying where it is', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n' });
      await git.switchSlot(slot, 'orchestrator/s1', base);
      sh(slot, 'checkout', '-q', '-b', 'agent-branch');
      writeFileSync(join(slot, 'a.txt'), 'changed\n');
      const work = { branch: 'orchestrator/s1', message: 'm', author, base };
      await expect(git.settleSlot(slot, work)).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, slot, 'the branch agent-branch', 'orchestrator/s1'));
      sh(slot, 'checkout', '-q', '--detach');
      await expect(git.settleSlot(slot, work)).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'a detached HEAD', 'orchestrator/s1'));
      expect(sh(repo, 'rev-parse', 'orchestrator/s1')).toBe(base);
      expect(sh(repo, 'rev-parse', 'agent-branch')).toBe(base);
      expect(readFileSync(join(slot, 'a.txt'), 'utf8')).toBe('changed\n');
    });

    it('merges into a slot without committing; commitAll then makes the two-parent merge commit', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n' });
      const other = branch(repo, 'other', base, { 'b.txt': 'from other\n' });
      await git.switchSlot(slot, 'orchestrator/s1', base);
      const mine = commit(slot, { 'c.txt': 'mine\n' });

      expect(await git.mergeIntoSlot(slot, 'other', 'Merge other into s1')).toEqual({ conflicts: [] });
      expect(sh(slot, 'rev-parse', 'HEAD')).toBe(mine); // not committed yet
      expect(readFileSync(join(slot, 'b.txt'), 'utf8')).toBe('from other\n');
      const merged = await git.commitAll(slot, 'Merge other into s1', author);
      expect(parents(repo, merged!)).toEqual([mine, other]);

      expect(await git.mergeIntoSlot(slot, other, 'again')).toEqual({ conflicts: [] }); // already merged
      expect(await git.commitAll(slot, 'nothing', author)).toBeNull();
      await expect(git.mergeIntoSlot(slot, 'no-such-branch', 'x')).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'no-such-branch', slot));
    });

    it('concludes a merge whose result equals HEAD: the merge still records the source', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'a\n' });
      const other = branch(repo, 'other', base, { 'a.txt': 'same\n' });
      await git.switchSlot(slot, 'orchestrator/s1', base);
      const mine = commit(slot, { 'a.txt': 'same\n' });
      expect(await git.mergeIntoSlot(slot, 'other', 'Merge other')).toEqual({ conflicts: [] });
      const merged = await git.commitAll(slot, 'Merge other', author);
      expect(parents(repo, merged!)).toEqual([mine, other]);
    });

    it('leaves conflict markers to resolve and finds the committed files that still hold them', async () => {
      const { repo, slot, base } = await withSlot({ 'a.txt': 'line\n', 'b.txt': 'b\n' });
      branch(repo, 'other', base, { 'a.txt': 'theirs\n', 'b.txt': 'b2\n' });
      await git.switchSlot(slot, 'orchestrator/s1', base);
      commit(slot, { 'a.txt': 'ours\n' });
      expect(await git.mergeIntoSlot(slot, 'other', 'Merge other')).toEqual({ conflicts: ['a.txt'] });
      expect(readFileSync(join(slot, 'a.txt'), 'utf8')).toMatch(/^<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> other\n$/);
      await git.commitAll(slot, 'Merge other, unresolved', author);
      expect(await git.conflictMarkers(slot, ['a.txt', 'b.txt', 'missing.txt'])).toEqual(['a.txt']);
    });

    it('finds each kind of marker line in committed blobs only, never through a symlink', async () => {
      const { slot, base } = await withSlot();
      await git.switchSlot(slot, 'orchestrator/s1', base);
      const outside = join(realpathSync(makeTempWorkspace()), 'outside.txt');
      writeFileSync(outside, '<<<<<<< HEAD\n');
      symlinkSync(outside, join(slot, 'link.txt'));
      commit(slot, {
        'open.txt': 'x\n<<<<<<< HEAD\n',
        'middle.txt': 'x\n=======\n',
        'crlf.txt': 'x\r\n=======\r\n',
        'close.txt': 'x\n>>>>>>> other\n',
        'heading.md': 'Title\n========\n',
        'inline.txt': 'a <<<<<<< b\n',
        'dir/-e name.txt': '>>>>>>> x\n',
      });
      writeFileSync(join(slot, 'later.txt'), '<<<<<<< not committed\n');
      const files = ['open.txt', 'middle.txt', 'crlf.txt', 'close.txt', 'heading.md', 'inline.txt', 'dir/-e name.txt', 'link.txt', 'later.txt', ':(glob)*'];
      expect(await git.conflictMarkers(slot, files)).toEqual(['open.txt', 'middle.txt', 'crlf.txt', 'close.txt', 'dir/-e name.txt']);
      expect(await git.conflictMarkers(slot, [])).toEqual([]);
    });
  });

  describe('merge', () => {
    /** `main` checked out in the repository with base files; `feature` adds to it. */
    function setup(): { repo: string; base: string; feature: string } {
      const repo = repository({ 'a.txt': 'a\n', 'shared.txt': 'one\ntwo\n' });
      const base = sh(repo, 'rev-parse', 'HEAD');
      const feature = branch(repo, 'feature', base, { 'feature.txt': 'feature\n' });
      commit(repo, { 'main.txt': 'main\n' });
      return { repo, base, feature };
    }
    const request = (strategy: GitMergeRequest['strategy'], source = 'feature', target = 'main'): GitMergeRequest => ({
      source,
      target,
      strategy,
      message: 'Merge feature\n\nmade by the orchestrator',
      author,
    });
    const journalOf = (repo: string) => join(repo, '.git', 'orchestrator-merge.json');

    it('merges with a merge commit, moving the checked-out worktree’s files with the branch', async () => {
      const { repo, feature } = setup();
      const previous = sh(repo, 'rev-parse', 'main');
      const outcome = await git.merge(repo, request('merge'));
      expect(outcome).toEqual({ kind: 'merged', commit: expect.stringMatching(/^[0-9a-f]{40}$/), previous });
      const commitId = (outcome as { commit: string }).commit;
      expect(sh(repo, 'rev-parse', 'main')).toBe(commitId);
      expect(parents(repo, commitId)).toEqual([previous, feature]);
      expect(sh(repo, 'log', '-1', '--format=%an <%ae>|%cn|%B', commitId)).toBe('Orchestrator <orchestrator@example.invalid>|Orchestrator|Merge feature\n\nmade by the orchestrator');
      expect(readFileSync(join(repo, 'feature.txt'), 'utf8')).toBe('feature\n');
      expect(sh(repo, 'status', '--porcelain')).toBe('');
      expect(existsSync(journalOf(repo))).toBe(false);
      expect(await git.merge(repo, request('merge'))).toEqual({ kind: 'up-to-date', commit: commitId });
    });

    it('squashes into one single-parent commit', async () => {
      const { repo } = setup();
      const previous = sh(repo, 'rev-parse', 'main');
      const outcome = await git.merge(repo, request('squash'));
      expect(outcome).toMatchObject({ kind: 'merged', previous });
      const commitId = (outcome as { commit: string }).commit;
      expect(parents(repo, commitId)).toEqual([previous]);
      expect(sh(repo, 'ls-tree', '--name-only', commitId).split('\n')).toEqual(['a.txt', 'feature.txt', 'main.txt', 'shared.txt']);
      expect(sh(repo, 'status', '--porcelain')).toBe('');
      // Squashed changes already on main: nothing to commit.
      expect(await git.merge(repo, request('squash'))).toEqual({ kind: 'up-to-date', commit: commitId });
    });

    it('rebases: replays the source’s commits on the target, authors kept, in a scratch worktree it removes', async () => {
      const { repo, feature } = setup();
      const tree = join(realpathSync(makeTempWorkspace()), 'wt');
      sh(repo, 'worktree', 'add', '-q', tree, 'feature');
      const second = commit(tree, { 'feature.txt': 'feature\nmore\n' }, 'second feature commit');
      sh(repo, 'worktree', 'remove', tree);
      const previous = sh(repo, 'rev-parse', 'main');

      const outcome = await git.merge(repo, request('rebase'));
      expect(outcome).toMatchObject({ kind: 'merged', previous });
      const head = (outcome as { commit: string }).commit;
      const replayed = sh(repo, 'rev-list', '--reverse', `${previous}..${head}`).split('\n');
      expect(replayed).toHaveLength(2);
      expect(parents(repo, replayed[0])).toEqual([previous]);
      expect(parents(repo, replayed[1])).toEqual([replayed[0]]);
      expect(sh(repo, 'log', '--reverse', '--format=%an|%cn|%s', `${previous}..${head}`)).toBe('Someone|Orchestrator|feature work\nSomeone|Orchestrator|second feature commit');
      expect(replayed).not.toContain(feature);
      expect(replayed).not.toContain(second);
      expect(readFileSync(join(repo, 'feature.txt'), 'utf8')).toBe('feature\nmore\n');
      expect(sh(repo, 'status', '--porcelain')).toBe('');
      expect((await git.listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
      expect(readdirSync(join(repo, '.git', 'orchestrator-scratch'))).toEqual([]);
      expect(await git.merge(repo, request('rebase', second))).toEqual({ kind: 'up-to-date', commit: sh(repo, 'rev-parse', 'main') });
    });

    it('reports a source already merged as up to date, whatever the strategy', async () => {
      const { repo, base } = setup();
      const main = sh(repo, 'rev-parse', 'main');
      for (const strategy of ['merge', 'squash', 'rebase'] as const) {
        expect(await git.merge(repo, request(strategy, base))).toEqual({ kind: 'up-to-date', commit: main });
      }
    });

    it.each(['merge', 'squash', 'rebase'] as const)('changes nothing on a conflict (%s): files named, branch and worktree as they were', async (strategy) => {
      const { repo, base } = setup();
      branch(repo, 'clash', base, { 'shared.txt': 'one\nTHEIRS\n', 'feature.txt': 'x\n' });
      commit(repo, { 'shared.txt': 'one\nOURS\n' });
      const before = sh(repo, 'rev-parse', 'main');
      const files = readdirSync(repo).filter((f) => f !== '.git');
      const contents = files.map((f) => readFileSync(join(repo, f)));

      expect(await git.merge(repo, request(strategy, 'clash'))).toEqual({ kind: 'conflict', files: ['shared.txt'] });
      expect(sh(repo, 'rev-parse', 'main')).toBe(before);
      expect(sh(repo, 'status', '--porcelain', '--ignored')).toBe('');
      expect(readdirSync(repo).filter((f) => f !== '.git')).toEqual(files);
      expect(files.map((f) => readFileSync(join(repo, f)))).toEqual(contents);
      expect((await git.listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
      expect(existsSync(journalOf(repo))).toBe(false);
    });

    it('changes nothing when the worktree that has the target checked out is dirty', async () => {
      const { repo } = setup();
      const before = sh(repo, 'rev-parse', 'main');
      writeFileSync(join(repo, 'a.txt'), 'the user is editing\n');
      writeFileSync(join(repo, 'untracked.txt'), 'x\n');
      expect(await git.merge(repo, request('merge'))).toEqual({ kind: 'dirty', worktree: repo, files: ['a.txt', 'untracked.txt'] });
      expect(sh(repo, 'rev-parse', 'main')).toBe(before);
      expect(readFileSync(join(repo, 'a.txt'), 'utf8')).toBe('the user is editing\n');
    });

    it('moves a branch no worktree has checked out by its ref alone', async () => {
      const { repo, base } = setup();
      const integration = branch(repo, 'orchestrator/plan-1a2b3c4d', base, { 'plan.txt': 'plan\n' });
      const outcome = await git.merge(repo, request('merge', 'feature', 'orchestrator/plan-1a2b3c4d'));
      expect(outcome).toMatchObject({ kind: 'merged', previous: integration });
      expect(sh(repo, 'rev-parse', 'orchestrator/plan-1a2b3c4d')).toBe((outcome as { commit: string }).commit);
      expect(existsSync(join(repo, 'feature.txt'))).toBe(false); // main's checkout is not the target's
      expect(sh(repo, 'status', '--porcelain')).toBe('');
    });

    it('refuses unknown branches and names that are not refs', async () => {
      const { repo } = setup();
      await expect(git.merge(repo, request('merge', 'feature', 'no-such-target'))).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'no-such-target'));
      await expect(git.merge(repo, request('merge', 'no-such-source'))).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'no-such-source'));
      await expect(git.merge(repo, request('merge', '--help'))).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
      await expect(git.merge(repo, request('merge', 'feature', 'main..x'))).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
    });

    describe('mergeSeries', () => {
      const items = (...sources: string[]) => sources.map((source) => ({ source, message: `Merge ${source}` }));

      it('merges each source onto the one before, skips a conflicting one, and moves the checked-out branch once', async () => {
        const { repo, base, feature } = setup();
        const second = branch(repo, 'second', base, { 'second.txt': 'second\n' });
        branch(repo, 'clash', base, { 'main.txt': 'theirs\n' });
        const previous = sh(repo, 'rev-parse', 'main');
        const reflog = sh(repo, 'reflog', '--format=%H', 'refs/heads/main').split('\n').length;

        const outcome = await git.mergeSeries(repo, { target: 'main', items: items('feature', 'clash', 'second', 'feature'), author });
        expect(outcome).toEqual({
          kind: 'done',
          outcomes: [
            { kind: 'merged', commit: expect.any(String), previous },
            { kind: 'conflict', files: ['main.txt'] },
            { kind: 'merged', commit: expect.any(String), previous: expect.any(String) },
            { kind: 'up-to-date', commit: expect.any(String) },
          ],
        });
        if (outcome.kind !== 'done') throw new Error('not done');
        const [first, , third, again] = outcome.outcomes as Array<{ commit: string; previous?: string }>;
        expect(third.previous).toBe(first.commit);
        expect(again.commit).toBe(third.commit);
        expect(parents(repo, first.commit)).toEqual([previous, feature]);
        expect(parents(repo, third.commit)).toEqual([first.commit, second]);
        expect(sh(repo, 'log', '-1', '--format=%an|%s', third.commit)).toBe('Orchestrator|Merge second');
        expect(sh(repo, 'rev-parse', 'main')).toBe(third.commit);
        expect(sh(repo, 'reflog', '--format=%H', 'refs/heads/main').split('\n').length).toBe(reflog + 1); // one move
        expect(readFileSync(join(repo, 'second.txt'), 'utf8')).toBe('second\n');
        expect(readFileSync(join(repo, 'main.txt'), 'utf8')).toBe('main\n');
        expect(sh(repo, 'status', '--porcelain')).toBe('');
        expect(existsSync(journalOf(repo))).toBe(false);
      });

      it('changes nothing when every source conflicts or is merged already, or the target is dirty, or a source is unknown', async () => {
        const { repo, base } = setup();
        branch(repo, 'clash', base, { 'main.txt': 'theirs\n' });
        const before = sh(repo, 'rev-parse', 'main');
        expect(await git.mergeSeries(repo, { target: 'main', items: items('clash', base), author })).toEqual({
          kind: 'done',
          outcomes: [
            { kind: 'conflict', files: ['main.txt'] },
            { kind: 'up-to-date', commit: before },
          ],
        });
        await expect(git.mergeSeries(repo, { target: 'main', items: items('feature', 'no-such-source'), author })).rejects.toEqual(
          failsWith(WorkspaceErrorCode.GIT_FAILED, 'no-such-source'),
        );
        await expect(git.mergeSeries(repo, { target: 'main', items: items('--help'), author })).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
        writeFileSync(join(repo, 'a.txt'), 'the user is editing\n');
        expect(await git.mergeSeries(repo, { target: 'main', items: items('feature'), author })).toEqual({ kind: 'dirty', worktree: repo, files: ['a.txt'] });
        expect(sh(repo, 'rev-parse', 'main')).toBe(before);
      });
    });

    describe('when the target moves meanwhile', () => {
      afterEach(() => jest.restoreAllMocks());

      /** Someone commits on `target` right after the merge commit was made. */
      function moveTargetAfterCommitTree(repo: string, target: string, worktree: string | null): { moved: () => string } {
        let moved = '';
        const text = CheckedGit.prototype.text;
        jest.spyOn(CheckedGit.prototype, 'text').mockImplementation(async function (this: CheckedGit, ...args: Parameters<CheckedGit['text']>) {
          const out = await text.apply(this, args);
          if (args[0][0] === 'commit-tree' && !moved) {
            if (worktree) moved = commit(worktree, { 'concurrent.txt': 'x\n' }, 'concurrent');
            else moved = sh(repo, 'commit-tree', '-p', target, '-m', 'concurrent', `${target}^{tree}`);
            if (!worktree) sh(repo, 'update-ref', `refs/heads/${target}`, moved);
          }
          return out;
        });
        return { moved: () => moved };
      }

      it('fails the compare-and-swap of a branch not checked out, and changes nothing', async () => {
        const { repo, base } = setup();
        branch(repo, 'integration', base, { 'plan.txt': 'plan\n' });
        const concurrent = moveTargetAfterCommitTree(repo, 'integration', null);
        await expect(git.merge(repo, request('merge', 'feature', 'integration'))).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'move integration'));
        expect(sh(repo, 'rev-parse', 'integration')).toBe(concurrent.moved());
        expect(existsSync(journalOf(repo))).toBe(false);
      });

      it('refuses to move a checked-out branch that moved, and changes nothing', async () => {
        const { repo } = setup();
        const concurrent = moveTargetAfterCommitTree(repo, 'main', repo);
        await expect(git.merge(repo, request('merge'))).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'move main', 'during the merge'));
        expect(sh(repo, 'rev-parse', 'main')).toBe(concurrent.moved());
        expect(sh(repo, 'status', '--porcelain')).toBe('');
        expect(existsSync(join(repo, 'feature.txt'))).toBe(false);
        expect(existsSync(journalOf(repo))).toBe(false);
      });
    });

    describe('recovery after a crash', () => {
      /** The state a merge of feature into main leaves just before it moves the branch: the journal written, the commit made. */
      function journaled(repo: string, feature: string): { previous: string; next: string } {
        const previous = sh(repo, 'rev-parse', 'main');
        const tree = sh(repo, 'merge-tree', '--write-tree', previous, feature);
        const next = sh(repo, '-c', 'user.name=x', '-c', 'user.email=x@y', 'commit-tree', tree, '-p', previous, '-p', feature, '-m', 'merge');
        writeFileSync(journalOf(repo), JSON.stringify({ target: 'main', previous, next, worktree: repo, at: new Date().toISOString() }));
        return { previous, next };
      }

      it('has nothing to do without a journal', async () => {
        const { repo } = setup();
        expect(await git.recoverMerge(repo)).toBe('none');
      });

      it('discards a move that never started', async () => {
        const { repo, feature } = setup();
        const { previous } = journaled(repo, feature);
        expect(await git.recoverMerge(repo)).toBe('discarded');
        expect(sh(repo, 'rev-parse', 'main')).toBe(previous);
        expect(sh(repo, 'status', '--porcelain')).toBe('');
        expect(existsSync(journalOf(repo))).toBe(false);
      });

      it('undoes the files a move killed before it moved the branch had written, and keeps the user’s other edits', async () => {
        const { repo, feature } = setup();
        const { previous } = journaled(repo, feature);
        writeFileSync(join(repo, '.git', 'index.lock'), '');
        writeFileSync(join(repo, 'feature.txt'), 'feat'); // half written
        writeFileSync(join(repo, 'a.txt'), 'the user edited this after the crash\n');

        expect(await git.recoverMerge(repo)).toBe('discarded');
        expect(sh(repo, 'rev-parse', 'main')).toBe(previous);
        expect(existsSync(join(repo, '.git', 'index.lock'))).toBe(false);
        expect(existsSync(join(repo, 'feature.txt'))).toBe(false);
        expect(sh(repo, 'status', '--porcelain')).toBe('M a.txt');
        expect(existsSync(journalOf(repo))).toBe(false);
      });

      it('undoes a move killed after it wrote the index and the files but before the branch moved', async () => {
        const { repo, feature } = setup();
        const { previous, next } = journaled(repo, feature);
        sh(repo, 'read-tree', '-m', '-u', previous, next);
        expect(sh(repo, 'status', '--porcelain')).toBe('A  feature.txt');
        expect(await git.recoverMerge(repo)).toBe('discarded');
        expect(sh(repo, 'status', '--porcelain')).toBe('');
        expect(existsSync(join(repo, 'feature.txt'))).toBe(false);
      });

      it('finishes a move whose branch moved but whose files were not written, a lock left behind', async () => {
        const { repo, feature } = setup();
        const { next } = journaled(repo, feature);
        sh(repo, 'update-ref', 'refs/heads/main', next);
        writeFileSync(join(repo, '.git', 'index.lock'), '');
        writeFileSync(join(repo, '.git', 'refs', 'heads', 'main.lock'), '');

        expect(await git.recoverMerge(repo)).toBe('rolled-forward');
        expect(sh(repo, 'rev-parse', 'main')).toBe(next);
        expect(readFileSync(join(repo, 'feature.txt'), 'utf8')).toBe('feature\n');
        expect(sh(repo, 'status', '--porcelain')).toBe('');
        expect(existsSync(join(repo, '.git', 'index.lock'))).toBe(false);
        expect(existsSync(join(repo, '.git', 'refs', 'heads', 'main.lock'))).toBe(false);
        expect(existsSync(journalOf(repo))).toBe(false);
      });

      it('merges after recovering, from inside merge', async () => {
        const { repo, feature } = setup();
        const { previous } = journaled(repo, feature);
        writeFileSync(join(repo, '.git', 'index.lock'), '');
        expect(await git.merge(repo, request('merge'))).toMatchObject({ kind: 'merged', previous });
        expect(sh(repo, 'status', '--porcelain')).toBe('');
      });

      it('removes scratch worktrees and half-written journals a killed merge left', async () => {
        const { repo, base } = setup();
        const scratch = join(repo, '.git', 'orchestrator-scratch', 'killed');
        await git.addDetachedWorktree(repo, scratch, base);
        sh(repo, 'worktree', 'lock', scratch); // as `git worktree add` leaves one it was killed in
        writeFileSync(join(repo, '.git', 'orchestrator-merge.json.123-abcd.tmp'), '{"tar');
        expect(await git.recoverMerge(repo)).toBe('none');
        expect((await git.listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
        expect(readdirSync(join(repo, '.git')).filter((f) => f.startsWith('orchestrator'))).toEqual([]);
      });

      it('does not act on a journal naming a worktree the target is not checked out in', async () => {
        const { repo, feature } = setup();
        const other = join(realpathSync(makeTempWorkspace()), 'other');
        sh(repo, 'worktree', 'add', '-q', other, 'feature');
        writeFileSync(join(other, 'feature.txt'), 'uncommitted work\n');
        const main = sh(repo, 'rev-parse', 'main');
        // `other` has feature checked out, not main: a forged (or stale) journal must not reach into it.
        writeFileSync(journalOf(repo), JSON.stringify({ target: 'main', previous: main, next: feature, worktree: other, at: 'x' }));
        expect(await git.recoverMerge(repo)).toBe('discarded');
        expect(readFileSync(join(other, 'feature.txt'), 'utf8')).toBe('uncommitted work\n');
        writeFileSync(journalOf(repo), 'not json');
        expect(await git.recoverMerge(repo)).toBe('discarded');
        expect(existsSync(journalOf(repo))).toBe(false);
      });
    });

    describe('killed at random moments', () => {
      const children = new Set<ChildProcess>();
      afterEach(() => children.forEach((child) => child.kill('SIGKILL')));

      /** A process (adapterProcess) that on a line of input merges `sources` one by one. */
      function mergingProcess(repo: string, sources: string[], strategy: GitMergeRequest['strategy']): { child: ChildProcess; ready: Promise<void> } {
        const body = `
          for (const source of args.sources) {
            await git.merge(args.repo, { source, target: 'main', strategy: args.strategy, message: 'Merge ' + source, author: { name: 'Killed', email: 'killed@example.invalid' } });
          }`;
        return adapterProcess(children, body, { repo, sources, strategy });
      }

      it('leaves the repository consistent whenever a merging process is killed, once recovered', async () => {
        const repo = repository({ 'README.md': 'hello\n' });
        const base = sh(repo, 'rev-parse', 'HEAD');
        const ROUNDS = 10;
        const PER_ROUND = 8;
        // Every source adds its own file: source-<round>-<i> off the first commit, all made by one fast-import.
        const stream = [];
        for (let r = 0; r < ROUNDS; r++) {
          for (let i = 0; i < PER_ROUND; i++) {
            const content = `${r}-${i}\n`;
            stream.push(`commit refs/heads/source-${r}-${i}`, 'committer T <t@example.invalid> 0 +0000', 'data 6', 'source', `from ${base}`);
            stream.push(`M 100644 inline file-${r}-${i}.txt`, `data ${content.length}`, content);
          }
        }
        execFileSync('git', ['fast-import', '--quiet'], { cwd: repo, input: stream.join('\n') + '\n' });
        const sources = new Map(
          sh(repo, 'for-each-ref', '--format=%(refname:short) %(objectname)', 'refs/heads/source-*')
            .split('\n')
            .map((line) => line.split(' ') as [string, string]),
        );
        const sourcesOf = (round: number) => Array.from({ length: PER_ROUND }, (_, i) => `source-${round}-${i}`);
        const strategies = ['merge', 'rebase'] as const;
        // Half the rounds kill at any moment; the other half just after a journal appears, while the branch moves.
        const anyMoment = () => new Promise((resolve) => setTimeout(resolve, 30 + Math.random() * 800));
        const whileMoving = () =>
          new Promise<void>((resolve) => {
            const watcher = watch(join(repo, '.git'), (_event, name) => {
              if (name !== 'orchestrator-merge.json') return;
              watcher.close();
              clearTimeout(fallback);
              setTimeout(resolve, Math.random() * 30);
            });
            const fallback = setTimeout(() => (watcher.close(), resolve()), 2000);
          });

        let next = mergingProcess(repo, sourcesOf(0), strategies[0]);
        for (let round = 0; round < ROUNDS; round++) {
          const { child, ready } = next;
          await ready;
          const before = sh(repo, 'rev-parse', 'main');
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.stdin!.write('go\n');
          if (round + 1 < ROUNDS) next = mergingProcess(repo, sourcesOf(round + 1), strategies[(round + 1) % 2]); // loads meanwhile
          await (round < ROUNDS / 2 ? anyMoment() : whileMoving());
          child.kill('SIGKILL');
          await exited;
          children.delete(child);

          expect(['none', 'rolled-forward', 'discarded']).toContain(await git.recoverMerge(repo));
          expect(execFileSync('git', ['fsck', '--no-dangling', '--no-progress'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe('');
          expect(execFileSync('find', [join(repo, '.git'), '-name', '*.lock'], { encoding: 'utf8' })).toBe('');
          expect(sh(repo, 'status', '--porcelain', '--ignored')).toBe('');
          expect((await git.listWorktrees(repo)).map((w) => w.path)).toEqual([repo]);
          expect(existsSync(journalOf(repo))).toBe(false);
          // main is where it was, or moved by whole merges of this round's sources: each adds one source's file.
          const log = sh(repo, 'log', '--first-parent', '--diff-merges=first-parent', '--name-only', '--format=%x01%P', `${before}..main`);
          for (const entry of log.split('\x01').filter(Boolean)) {
            const [parentIds, ...files] = entry.split('\n').filter(Boolean);
            const [, second, ...more] = parentIds.split(' ');
            expect(more).toEqual([]);
            expect(files).toEqual([expect.stringMatching(new RegExp(`^file-${round}-\\d+\\.txt$`))]);
            expect(second).toBe(strategies[round % 2] === 'merge' ? sources.get(`source-${files[0].slice('file-'.length, -'.txt'.length)}`) : undefined);
          }
        }
      });
    });
  });

  describe('diffFiles', () => {
    it('parses added, modified, deleted, renamed, binary and type-changed files, odd names included', async () => {
      const lines = Array.from({ length: 12 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
      const repo = repository({ 'mod.txt': 'one\ntwo\nthree\n', 'del.txt': 'bye\n', 'old name.txt': lines, 'img.bin': 'x', 'link': 'target' });
      rmSync(join(repo, 'link'));
      symlinkSync('mod.txt', join(repo, 'link'));
      const base = commit(repo, {}, 'symlink');
      unlinkSync(join(repo, 'link'));
      rmSync(join(repo, 'old name.txt'));
      const head = commit(repo, {
        'mod.txt': 'one\nTWO\nthree',
        'del.txt': null,
        'new b/file.txt': 'new\n',
        'a b/new name.txt': lines.replace('line 12', 'line twelve'),
        'img.bin': Buffer.from([0, 1, 2, 3, 255]),
        'link': 'a file now\n',
      });

      const files = await git.diffFiles(repo, base, head);
      const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
      expect(Object.keys(byPath).sort()).toEqual(['a b/new name.txt', 'del.txt', 'img.bin', 'link', 'mod.txt', 'new b/file.txt']);
      expect(byPath['new b/file.txt']).toEqual({
        path: 'new b/file.txt',
        oldPath: null,
        status: 'added',
        insertions: 1,
        deletions: 0,
        binary: false,
        hunks: [{ header: '@@ -0,0 +1 @@', oldStart: 0, oldLines: 0, newStart: 1, newLines: 1, lines: ['+new'] }],
      });
      expect(byPath['mod.txt']).toEqual({
        path: 'mod.txt',
        oldPath: null,
        status: 'modified',
        insertions: 2,
        deletions: 2,
        binary: false,
        hunks: [
          {
            header: '@@ -1,3 +1,3 @@',
            oldStart: 1,
            oldLines: 3,
            newStart: 1,
            newLines: 3,
            lines: [' one', '-two', '-three', '+TWO', '+three', '\\ No newline at end of file'],
          },
        ],
      });
      expect(byPath['del.txt']).toMatchObject({ status: 'deleted', oldPath: null, insertions: 0, deletions: 1, hunks: [{ lines: ['-bye'] }] });
      expect(byPath['a b/new name.txt']).toMatchObject({
        status: 'renamed',
        oldPath: 'old name.txt',
        insertions: 1,
        deletions: 1,
        binary: false,
        hunks: [{ header: '@@ -9,4 +9,4 @@ line 8', lines: [' line 9', ' line 10', ' line 11', '-line 12', '+line twelve'] }],
      });
      expect(byPath['img.bin']).toMatchObject({ status: 'modified', binary: true, insertions: 0, deletions: 0, hunks: [] });
      expect(byPath['link']).toMatchObject({
        status: 'modified',
        insertions: 1,
        deletions: 1,
        hunks: [{ lines: ['-mod.txt', '\\ No newline at end of file'] }, { lines: ['+a file now'] }],
      });
      expect(await git.diffFiles(repo, head, head)).toEqual([]);
      await expect(git.diffFiles(repo, base, 'no-such-commit')).rejects.toEqual(failsWith(WorkspaceErrorCode.GIT_FAILED, 'no-such-commit'));
      await expect(git.diffFiles(repo, '--output=/tmp/x', head)).rejects.toMatchObject({ code: WorkspaceErrorCode.GIT_REF_INVALID });
    });
  });
});

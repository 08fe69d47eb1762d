import { realpath } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { simpleGit, SimpleGit } from 'simple-git';
import type { GitAuthor, GitChanges, GitPort } from '../application/git.port';
import { assertSafeRef, unsafeGitConfigKeys } from '../domain/git-refs';
import { WorkspaceError, WorkspaceErrorCode } from '../domain/workspace.errors';

/** How long one git command may take before it is killed. */
const GIT_TIMEOUT_MS = 60_000;

/**
 * GitPort on the `git` binary, through simple-git. Every command runs without the system and
 * global config, without hooks and without fsmonitor, and a repository whose own config names a
 * program (filters, diff and merge drivers, includes, ...) is refused before git touches its
 * files: a model may have written that config, and the orchestrator's git runs outside the sandbox.
 */
export class GitCliAdapter implements GitPort {
  async workTreeRoot(directory: string): Promise<string | null> {
    absolute(directory);
    try {
      const top = (await this.git(directory).revparse(['--show-toplevel'])).trim();
      return top ? await realpath(top) : null;
    } catch {
      return null;
    }
  }

  async commitOf(repository: string, ref: string): Promise<string> {
    assertSafeRef(ref);
    const git = await this.checkedGit(repository);
    return run(() => git.revparse(['--verify', '--end-of-options', `${ref}^{commit}`]), `resolve ${ref}`).then((id) => id.trim());
  }

  async addWorktree(repository: string, path: string, branch: string, baseCommit: string): Promise<void> {
    absolute(path);
    assertSafeRef(branch, 'branch');
    assertSafeRef(baseCommit, 'baseCommit');
    const git = await this.checkedGit(repository);
    await run(() => git.raw(['worktree', 'add', '--no-track', '-b', branch, '--', path, baseCommit]), `add a worktree on ${branch}`);
  }

  async commitAll(worktree: string, message: string, author: GitAuthor): Promise<string | null> {
    const git = await this.checkedGit(worktree);
    await run(() => git.raw(['add', '--all', '--', '.']), 'stage the changes');
    const staged = await run(() => git.raw(['diff', '--cached', '--name-only', '-z']), 'list the staged changes');
    if (!staged.replace(/\0/g, '').trim()) return null;
    await run(
      () =>
        git
          .env({ ...baseEnvironment(), GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email })
          .raw(['commit', '--no-verify', '--no-gpg-sign', '--quiet', `--message=${message}`]),
      'commit',
    );
    return (await run(() => git.revparse(['HEAD']), 'read the new commit')).trim();
  }

  async changes(repository: string, base: string, head: string): Promise<GitChanges> {
    assertSafeRef(base, 'base');
    assertSafeRef(head, 'head');
    const git = await this.checkedGit(repository);
    const numstat = await run(
      () => git.raw(['diff', '--no-ext-diff', '--no-textconv', '--numstat', '-z', '--no-renames', base, head, '--']),
      `count the changes ${base}..${head}`,
    );
    const changes: GitChanges = { files: [], insertions: 0, deletions: 0 };
    for (const entry of numstat.split('\0')) {
      const match = /^(-|\d+)\t(-|\d+)\t(.+)$/s.exec(entry);
      if (!match) continue;
      changes.insertions += match[1] === '-' ? 0 : Number(match[1]);
      changes.deletions += match[2] === '-' ? 0 : Number(match[2]);
      changes.files.push(match[3]);
    }
    return changes;
  }

  async diff(repository: string, base: string, head: string): Promise<string> {
    assertSafeRef(base, 'base');
    assertSafeRef(head, 'head');
    const git = await this.checkedGit(repository);
    return run(() => git.raw(['diff', '--no-ext-diff', '--no-textconv', '--no-color', base, head, '--']), `diff ${base}..${head}`);
  }

  async removeWorktree(repository: string, path: string, branch: string): Promise<void> {
    absolute(path);
    assertSafeRef(branch, 'branch');
    const git = await this.checkedGit(repository);
    await run(() => git.raw(['worktree', 'remove', '--force', '--force', '--', path]), `remove the worktree ${path}`);
    await run(() => git.raw(['branch', '-D', '--', branch]), `delete ${branch}`);
  }

  /** A git client for `directory` after checking that the repository's config runs nothing. */
  private async checkedGit(directory: string): Promise<SimpleGit> {
    absolute(directory);
    const git = this.git(directory);
    // `scope\0key\nvalue\0` per entry; the `command` scope is this adapter's own hardening.
    const listed = await run(() => git.raw(['config', '--list', '--null', '--show-scope']), `read the config of ${directory}`);
    const fields = listed.split('\0');
    const entries: Array<[string, string]> = [];
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'command') continue;
      const at = fields[i + 1].indexOf('\n');
      entries.push(at < 0 ? [fields[i + 1], ''] : [fields[i + 1].slice(0, at), fields[i + 1].slice(at + 1)]);
    }
    const unsafe = unsafeGitConfigKeys(entries);
    if (unsafe.length > 0) {
      throw new WorkspaceError(
        WorkspaceErrorCode.GIT_REPOSITORY_UNSAFE,
        `the repository at ${directory} sets ${unsafe.join(', ')}, which would make git run a program; remove them to use it`,
        { keys: unsafe },
      );
    }
    return git;
  }

  private git(directory: string): SimpleGit {
    return simpleGit({
      baseDir: directory,
      strict: true,
      timeout: { block: GIT_TIMEOUT_MS },
      config: ['core.hooksPath=/dev/null', 'core.fsmonitor=false', 'commit.gpgSign=false', 'core.quotePath=false'],
      allowConfig: ['core.hooksPath', 'core.fsmonitor', 'commit.gpgSign'],
      allowEnvironment: [...Object.keys(baseEnvironment()), 'GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL'],
    }).env(baseEnvironment());
  }
}

/** Only what git needs: no system or global config, no prompts, no pager. */
function baseEnvironment(): Record<string, string> {
  return {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/nonexistent',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
  };
}

function absolute(path: string): void {
  if (!isAbsolute(path)) throw new WorkspaceError(WorkspaceErrorCode.WORKSPACE_INVALID, `${path} is not an absolute path`);
}

async function run<T>(command: () => Promise<T>, what: string): Promise<T> {
  try {
    return await command();
  } catch (err) {
    if (err instanceof WorkspaceError) throw err;
    const message = err instanceof Error ? err.message.trim().split('\n').slice(0, 3).join(' ') : String(err);
    throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not ${what}: ${message}`);
  }
}

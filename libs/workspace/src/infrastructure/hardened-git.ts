import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { simpleGit, SimpleGit, SimpleGitOptions } from 'simple-git';
import type { GitAuthor } from '../application/git.port';
import { unsafeGitConfigKeys } from '../domain/git-refs';
import { WorkspaceError, WorkspaceErrorCode } from '../domain/workspace.errors';

/** How long one git command may go without output before it is killed. */
const GIT_TIMEOUT_MS = 60_000;

/**
 * Every command runs without the system and global config, hooks, fsmonitor, signing, rerere and
 * automatic gc (which would leave a git running in the background, holding locks).
 */
const HARDENING = ['core.hooksPath=/dev/null', 'core.fsmonitor=false', 'commit.gpgSign=false', 'core.quotePath=false', 'rerere.enabled=false', 'gc.auto=0', 'maintenance.auto=false'];

export interface GitRunOptions {
  /** Exit codes that answer the question asked (`1`: "no", "conflicts") instead of failing. */
  answers?: readonly number[];
  /** Variables on top of the base environment (an author, ...). */
  env?: Record<string, string>;
  /** What git reads on its standard input. */
  input?: string;
}

export interface GitRun {
  exitCode: number;
  stdout: string;
  /** What git wrote to stderr (its reason, when the exit code is one of `answers`). */
  stderr: string;
}

/**
 * git in one directory whose repository config was checked to name no program (filters, diff and
 * merge drivers, includes, ...): a model may have written that config, and the orchestrator's git
 * runs outside the sandbox.
 */
export class CheckedGit {
  private constructor(readonly directory: string) {}

  static async open(directory: string): Promise<CheckedGit> {
    absolute(directory);
    // A config checked before and not written since (same files, same inode, size and mtime) is
    // not read again: a run makes some twenty git calls on one repository, and the check would
    // double them. Any write to the config files changes their stamp and brings the check back.
    const stamp = await configStamp(directory);
    if (stamp !== null && CHECKED.get(directory) === stamp) return new CheckedGit(directory);
    // `scope\0key\nvalue\0` per entry; the `command` scope is this client's own hardening.
    const listed = await asGitFailure(() => hardenedClient(directory).raw(['config', '--list', '--null', '--show-scope']), `read the config of ${directory}`);
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
    if (stamp !== null) remember(directory, stamp);
    return new CheckedGit(directory);
  }

  /** Runs `git args`; any exit code but 0 and `answers` is GIT_FAILED saying git could not `what`. */
  async run(args: string[], what: string, options: GitRunOptions = {}): Promise<GitRun> {
    const answers = options.answers ?? [];
    let exitCode = -1;
    let stderr = '';
    const client = hardenedClient(this.directory, {
      // simple-git fails a command only when it also wrote to stderr; here the exit code decides.
      errors: (error, result) => {
        exitCode = result.exitCode;
        stderr = Buffer.concat(result.stdErr).toString('utf8');
        if (result.exitCode === 0 || answers.includes(result.exitCode)) return undefined;
        return error ?? Buffer.from(`exited with code ${result.exitCode}: ${Buffer.concat(result.stdOut).toString('utf8')}`);
      },
      ...(options.input === undefined ? {} : { input: () => options.input }),
    });
    if (options.env) client.env({ ...baseEnvironment(), ...options.env });
    const stdout = await asGitFailure(() => client.raw(args), what);
    return { exitCode, stdout, stderr };
  }

  /** What `git args` printed. */
  async text(args: string[], what: string, options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, what, options)).stdout;
  }
}

/** The one git client: hardened, and with nothing from the caller's environment. */
export function hardenedClient(directory: string, options: Partial<SimpleGitOptions> = {}): SimpleGit {
  return simpleGit({
    baseDir: directory,
    strict: true,
    timeout: { block: GIT_TIMEOUT_MS },
    config: HARDENING,
    allowConfig: HARDENING.map((setting) => setting.slice(0, setting.indexOf('='))),
    allowEnvironment: [...Object.keys(baseEnvironment()), ...Object.keys(identity({ name: '', email: '' }))],
    ...options,
  }).env(baseEnvironment());
}

/** Author and committer of the commits a command makes. */
export function identity(author: GitAuthor): Record<string, string> {
  return { ...committer(author), GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email };
}

/** Committer only: commands that replay commits keep their authors. */
export function committer(author: GitAuthor): Record<string, string> {
  return { GIT_COMMITTER_NAME: author.name, GIT_COMMITTER_EMAIL: author.email };
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

export function absolute(path: string): void {
  if (!isAbsolute(path)) throw new WorkspaceError(WorkspaceErrorCode.WORKSPACE_INVALID, `${path} is not an absolute path`);
}

export async function asGitFailure<T>(command: () => Promise<T>, what: string): Promise<T> {
  try {
    return await command();
  } catch (err) {
    if (err instanceof WorkspaceError) throw err;
    const message = err instanceof Error ? err.message.trim().split('\n').slice(0, 3).join(' ') : String(err);
    throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not ${what}: ${message}`);
  }
}

/** Directories whose config was found safe, with the stamp of their config files then (most recent last). */
const CHECKED = new Map<string, string>();
const CHECKED_MAX = 512;

function remember(directory: string, stamp: string): void {
  CHECKED.delete(directory);
  CHECKED.set(directory, stamp);
  if (CHECKED.size > CHECKED_MAX) CHECKED.delete(CHECKED.keys().next().value as string);
}

/**
 * The git directory and the common git directory of the work tree whose top is `directory`, read
 * from the files git keeps them in (`.git` a directory, or a worktree's `.git` file naming its git
 * dir, and its `commondir`), no git run. Null when it cannot be told that way (a subdirectory, an
 * odd layout): the caller asks git.
 */
export async function gitDirectories(directory: string): Promise<{ gitDir: string; common: string } | null> {
  try {
    const dotGit = join(directory, '.git');
    const info = await stat(dotGit);
    let gitDir = dotGit;
    if (info.isFile()) {
      const pointer = /^gitdir: (.+)$/m.exec(await readFile(dotGit, 'utf8'));
      if (!pointer) return null;
      gitDir = resolve(directory, pointer[1].trim());
    }
    const common = await readFile(join(gitDir, 'commondir'), 'utf8').then(
      (text) => resolve(gitDir, text.trim()),
      () => gitDir,
    );
    return { gitDir, common };
  } catch {
    return null;
  }
}

/**
 * The identity of every config file git reads for `directory` when it is the top of a work tree:
 * the common `config` and the worktree's `config.worktree`, each as inode, size and mtime. Null
 * when the directories cannot be told without git: the config is then checked every time.
 */
async function configStamp(directory: string): Promise<string | null> {
  const dirs = await gitDirectories(directory);
  if (!dirs) return null;
  const parts = await Promise.all(
    [join(dirs.common, 'config'), join(dirs.gitDir, 'config.worktree')].map((file) =>
      stat(file, { bigint: true }).then(
        (s) => `${file}:${s.ino}:${s.size}:${s.mtimeNs}`,
        () => `${file}:none`,
      ),
    ),
  );
  return parts.join('|');
}

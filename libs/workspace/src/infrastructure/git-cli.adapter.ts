import { errorMessage } from '@app/shared';
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type {
  GitAuthor,
  GitChanges,
  GitFileDiff,
  GitMergeOutcome,
  GitMergeRecovery,
  GitMergeRequest,
  GitMergeSeriesOutcome,
  GitMergeSeriesRequest,
  GitSeriesItemOutcome,
  GitPort,
  GitSlotReset,
  GitSlotSettled,
  GitWorktree,
} from '../application/git.port';
import { ListedWorktree, parseDiffSummary, parseMergeTree, parseStatusPaths, parseWorktreeList } from '../domain/git-output';
import { assertSafeRef, isSafeRef } from '../domain/git-refs';
import { MergeJournal, parseMergeJournal } from '../domain/merge-journal';
import { WorkspaceError, WorkspaceErrorCode } from '../domain/workspace.errors';
import { fileDiffs } from './git-file-diffs';
import { absolute, asGitFailure, CheckedGit, committer, gitDirectories, hardenedClient, identity } from './hardened-git';

/** In the common git directory: the journal of the merge moving a branch, and the scratch worktrees rebases replay in. */
const MERGE_JOURNAL = 'orchestrator-merge.json';
const SCRATCH_DIR = 'orchestrator-scratch';

/** A line git writes around a conflict (`<<<<<<< ours`, `=======`, `>>>>>>> theirs`), CRLF files included. */
const CONFLICT_MARKER = '^(<<<<<<< |=======[[:space:]]*$|>>>>>>> )';

/** Paths per command where a list of them goes on the command line. */
const PATHS_PER_COMMAND = 500;

/** `git merge` wants an identity even when it makes no commit. */
const SLOT_MERGER: GitAuthor = { name: 'Orchestrator', email: 'orchestrator@localhost' };

/** Options that make a merge or checkout in a worktree run nothing and ask nothing. */
const QUIET_MERGE = ['--no-stat', '--no-verify', '--no-autostash', '--no-verify-signatures'];

/**
 * GitPort on the `git` binary, through the hardened client (hardened-git.ts): no system or global
 * config, no hooks, no fsmonitor, and a repository whose own config names a program is refused
 * before git touches its files. Refs are checked (assertSafeRef) and file names from a repository
 * go after `--` with pathspec magic off, so nothing a model wrote is read as an option.
 */
export class GitCliAdapter implements GitPort {
  async workTreeRoot(directory: string): Promise<string | null> {
    absolute(directory);
    let top: string;
    try {
      top = (await hardenedClient(directory).revparse(['--show-toplevel'])).trim();
    } catch (err) {
      // Not in a work tree (or inside a .git directory): null. Anything else (git killed, out of
      // processes) must not pass for "no git": the caller would share a repository's working tree.
      if (/not a git repository|must be run in a work tree/i.test(errorMessage(err))) return null;
      throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not tell whether ${directory} is in a work tree: ${firstLine(errorMessage(err))}`);
    }
    return top ? realpath(top) : null;
  }

  async hasCommit(repository: string): Promise<boolean> {
    return (await objectIds(await this.checkedGit(repository), ['HEAD']))[0] !== null;
  }

  async commonDir(repository: string): Promise<string> {
    const git = await this.checkedGit(repository);
    return this.commonDirOf(git);
  }

  async commitOf(repository: string, ref: string): Promise<string> {
    assertSafeRef(ref);
    return resolveCommit(await this.checkedGit(repository), ref);
  }

  async addWorktree(repository: string, path: string, branch: string, baseCommit: string): Promise<void> {
    absolute(path);
    assertSafeRef(branch, 'branch');
    assertSafeRef(baseCommit, 'baseCommit');
    const git = await this.checkedGit(repository);
    await git.text(['worktree', 'add', '--no-track', '-b', branch, '--', path, baseCommit], `add a worktree at ${path} on ${branch}`);
  }

  async addDetachedWorktree(repository: string, path: string, commit: string): Promise<void> {
    absolute(path);
    assertSafeRef(commit, 'commit');
    const git = await this.checkedGit(repository);
    // --force: a registration whose directory is gone (a slot removed while git held it) is taken over; the path is ours.
    await git.text(['worktree', 'add', '--force', '--detach', '--', path, commit], `add a worktree at ${path} on ${commit}`);
  }

  async removeWorktree(repository: string, path: string, branch: string): Promise<void> {
    absolute(path);
    assertSafeRef(branch, 'branch');
    const git = await this.checkedGit(repository);
    await git.text(['worktree', 'remove', '--force', '--force', '--', path], `remove the worktree ${path}`);
    await git.text(['branch', '-D', '--', branch], `delete ${branch}`);
  }

  async listWorktrees(repository: string): Promise<GitWorktree[]> {
    const listed = await listedWorktrees(await this.checkedGit(repository));
    return listed.map(({ path, head, branch }) => ({ path, head, branch }));
  }

  async checkedOutBranch(worktree: string): Promise<string | null> {
    return currentBranch(await this.checkedGit(worktree));
  }

  async pruneWorktrees(repository: string): Promise<void> {
    const git = await this.checkedGit(repository);
    await git.text(['worktree', 'prune'], `prune the worktrees of ${repository}`);
  }

  async branchExists(repository: string, branch: string): Promise<boolean> {
    assertSafeRef(branch, 'branch');
    return branchExists(await this.checkedGit(repository), branch);
  }

  async createBranch(repository: string, branch: string, commit: string): Promise<void> {
    assertSafeRef(branch, 'branch');
    assertSafeRef(commit, 'commit');
    const git = await this.checkedGit(repository);
    await git.text(['branch', '--no-track', '--', branch, commit], `create the branch ${branch} at ${commit} in ${repository}`);
  }

  async deleteBranch(repository: string, branch: string): Promise<void> {
    assertSafeRef(branch, 'branch');
    const git = await this.checkedGit(repository);
    if (!(await branchExists(git, branch))) return;
    await git.text(['branch', '-D', '--', branch], `delete the branch ${branch} in ${repository}`);
  }

  async listBranches(repository: string, prefix: string): Promise<string[]> {
    const git = await this.checkedGit(repository);
    // Filtered here: for-each-ref patterns match whole path components or globs, not a plain prefix.
    const refs = await git.text(['for-each-ref', '--format=%(refname)', 'refs/heads/'], `list the branches of ${repository}`);
    const wanted = `refs/heads/${prefix}`;
    return refs
      .split('\n')
      .filter((ref) => ref.startsWith(wanted))
      .map((ref) => ref.slice('refs/heads/'.length));
  }

  async dirtyFiles(worktree: string): Promise<string[]> {
    return dirtyFiles(await this.checkedGit(worktree));
  }

  async commitAll(worktree: string, message: string, author: GitAuthor): Promise<string | null> {
    const git = await this.checkedGit(worktree);
    return (await commitEverything(git, message, author)) ? resolveCommit(git, 'HEAD') : null;
  }

  async resetSlot(slot: string, leftovers: { message: string; author: GitAuthor }): Promise<GitSlotReset> {
    const git = await this.checkedGit(slot);
    // The caller holds the slot and its branch, so no git runs on them: a lock is what a killed one left.
    const { gitDir, common, branch } = await slotState(git);
    await rm(join(gitDir, 'index.lock'), { force: true });
    await rm(join(gitDir, 'HEAD.lock'), { force: true });
    if (branch !== null && isSafeRef(branch)) await rm(join(common, 'refs', 'heads', `${branch}.lock`), { force: true });
    let recovered: string | null = null;
    const merging = await exists(join(gitDir, 'MERGE_HEAD'));
    if (branch !== null && (merging || (await dirtyFiles(git)).length > 0)) {
      recovered = await this.commitAll(slot, leftovers.message, leftovers.author);
    }
    // -ff: nested repositories go too.
    await git.text(['clean', '-ffdx'], `clean ${slot}`);
    // The slot a settled run left (detached, nothing but what clean removed): tracked changes there
    // can only be strays, and switchSlot's forced checkout discards them. Otherwise the slot is
    // detached here, which also ends a merge in progress and frees the branch.
    if (branch !== null || merging) await git.text(['checkout', '--force', '--detach'], `detach HEAD in ${slot}`);
    return { recovered };
  }

  async switchSlot(slot: string, branch: string, baseCommit: string): Promise<{ created: boolean }> {
    assertSafeRef(branch, 'branch');
    assertSafeRef(baseCommit, 'baseCommit');
    const git = await this.checkedGit(slot);
    // The caller holds the slot and the branch, so no git writes the branch: its lock is one a killed
    // `checkout -b` left, which makes the branch impossible to create (resetSlot misses it: HEAD never got there).
    await rm(join((await slotState(git)).common, 'refs', 'heads', `${branch}.lock`), { force: true });
    // Made first (the usual case); a branch that exists already (a retry, a resumed run) is checked out instead.
    const made = await git.run(['checkout', '--force', '--no-track', '-b', branch, baseCommit, '--'], `create ${branch} at ${baseCommit} in ${slot}`, {
      answers: [128],
    });
    if (made.exitCode === 0) return { created: true };
    if (!(await branchExists(git, branch))) {
      throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not create ${branch} at ${baseCommit} in ${slot}: ${firstLine(made.stderr)}`);
    }
    const here = await realpath(slot);
    const holderOf = async () => (await listedWorktrees(git)).find((w) => w.branch === branch && w.path !== here);
    let holder = await holderOf();
    if (holder?.prunable && !holder.locked) {
      // A slot whose directory went while it had the branch (a worker killed while removing or
      // remaking it): git still counts its record as checking the branch out, though it holds no work.
      await git.text(['worktree', 'prune'], `prune the worktrees of ${slot}`);
      holder = await holderOf();
    }
    if (holder) {
      throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not check out ${branch} in ${slot}: it is checked out in the worktree ${holder.path}`, {
        branch,
        worktree: holder.path,
      });
    }
    await git.text(['checkout', '--force', '--no-guess', branch, '--'], `check out ${branch} in ${slot}`);
    return { created: false };
  }

  async settleSlot(slot: string, work: { branch: string; message: string; author: GitAuthor; base: string }): Promise<GitSlotSettled> {
    assertSafeRef(work.base, 'base');
    const git = await this.checkedGit(slot);
    // The agent can run git in its slot: its work is committed only on the branch the run is for.
    const on = (await slotState(git)).branch;
    if (on !== work.branch) {
      const where = on === null ? 'a detached HEAD' : `the branch ${on}`;
      throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `the turn left ${slot} on ${where} instead of ${work.branch}: its work was not committed there`);
    }
    const committed = await commitEverything(git, work.message, work.author);
    await git.text(['checkout', '--detach'], `detach HEAD in ${slot}`);
    // Detached, HEAD holds the commit itself.
    const head = (await slotState(git)).commit ?? (await resolveCommit(git, 'HEAD'));
    return { committed: committed ? head : null, head, changes: await countChanges(git, work.base, head) };
  }

  async mergeIntoSlot(slot: string, source: string, message: string): Promise<{ conflicts: string[] }> {
    assertSafeRef(source, 'source');
    const git = await this.checkedGit(slot);
    const merged = await git.run(
      ['merge', '--no-ff', '--no-commit', ...QUIET_MERGE, `--message=${message}`, '--end-of-options', source],
      `merge ${source} in ${slot}`,
      { answers: [1], env: identity(SLOT_MERGER) },
    );
    if (merged.exitCode === 0) return { conflicts: [] };
    const conflicts = await unmergedFiles(git);
    if (conflicts.length === 0) {
      throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not merge ${source} in ${slot}: ${merged.stdout.trim().split('\n').slice(0, 3).join(' ')}`);
    }
    return { conflicts };
  }

  async detachSlot(slot: string): Promise<void> {
    const git = await this.checkedGit(slot);
    await git.text(['checkout', '--detach'], `detach HEAD in ${slot}`);
  }

  async conflictMarkers(worktree: string, files: string[]): Promise<string[]> {
    const git = await this.checkedGit(worktree);
    const marked = new Set<string>();
    // The committed blobs, not the files: a file may be a symlink to anywhere.
    for (const some of chunks(files, PATHS_PER_COMMAND)) {
      const found = await git.text(
        ['--literal-pathspecs', 'grep', '-l', '-z', '--full-name', '--no-color', '-E', '-e', CONFLICT_MARKER, 'HEAD', '--', ...some],
        `look for conflict markers in ${worktree}`,
        { answers: [1] },
      );
      for (const name of found.split('\0')) if (name.startsWith('HEAD:')) marked.add(name.slice('HEAD:'.length));
    }
    return files.filter((file) => marked.has(file));
  }

  async merge(repository: string, request: GitMergeRequest): Promise<GitMergeOutcome> {
    const { target, strategy } = request;
    assertSafeRef(request.source, 'source');
    assertSafeRef(target, 'target');
    const git = await this.checkedGit(repository);
    const common = await this.commonDirOf(git);
    const { worktrees } = await this.recover(git, common);
    const [previous, source] = await objectIds(git, [`refs/heads/${target}^{commit}`, `${request.source}^{commit}`]);
    if (previous === null || source === null) {
      throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not resolve ${previous === null ? target : request.source} in ${repository}`);
    }
    const worktree = worktrees.find((w) => w.branch === target)?.path ?? null;
    const there = worktree === null ? null : worktree === (await realpath(repository)) ? git : await this.checkedGit(worktree);
    if (there) {
      const files = await dirtyFiles(there);
      if (files.length > 0) return { kind: 'dirty', worktree: worktree!, files };
    }
    if (await isAncestor(git, source, previous)) return { kind: 'up-to-date', commit: previous };

    const planned =
      strategy === 'rebase' ? await this.replay(repository, git, common, previous, source, request) : await this.mergeCommit(git, previous, source, request);
    if (planned.kind !== 'commit') return planned;
    await this.moveBranch(git, there, common, { target, previous, next: planned.commit, worktree, at: new Date().toISOString() }, request.author);
    return { kind: 'merged', commit: planned.commit, previous };
  }

  async mergeSeries(repository: string, request: GitMergeSeriesRequest): Promise<GitMergeSeriesOutcome> {
    const { target, author } = request;
    assertSafeRef(target, 'target');
    for (const item of request.items) assertSafeRef(item.source, 'source');
    const git = await this.checkedGit(repository);
    const common = await this.commonDirOf(git);
    const { worktrees } = await this.recover(git, common);
    // One lookup for the target and every source; one that names no commit fails the whole series, as merge would.
    const [previous, ...sources] = await objectIds(git, [`refs/heads/${target}^{commit}`, ...request.items.map((item) => `${item.source}^{commit}`)]);
    const missing = [target, ...request.items.map((item) => item.source)].filter((_, i) => (i === 0 ? previous : sources[i - 1]) === null);
    if (missing.length > 0) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not resolve ${missing.join(', ')} in ${repository}`);
    const worktree = worktrees.find((w) => w.branch === target)?.path ?? null;
    const there = worktree === null ? null : worktree === (await realpath(repository)) ? git : await this.checkedGit(worktree);
    if (there) {
      const files = await dirtyFiles(there);
      if (files.length > 0) return { kind: 'dirty', worktree: worktree!, files };
    }
    const outcomes: GitSeriesItemOutcome[] = [];
    let head = previous!;
    for (const [i, item] of request.items.entries()) {
      const source = sources[i]!;
      if (await isAncestor(git, source, head)) {
        outcomes.push({ kind: 'up-to-date', commit: head });
        continue;
      }
      const planned = await this.mergeCommit(git, head, source, { source: item.source, target, strategy: 'merge', message: item.message, author });
      if (planned.kind === 'commit') {
        outcomes.push({ kind: 'merged', commit: planned.commit, previous: head });
        head = planned.commit;
      } else {
        outcomes.push(planned);
      }
    }
    if (head !== previous) await this.moveBranch(git, there, common, { target, previous: previous!, next: head, worktree, at: new Date().toISOString() }, author);
    return { kind: 'done', outcomes };
  }

  async recoverMerge(repository: string): Promise<GitMergeRecovery> {
    const git = await this.checkedGit(repository);
    return (await this.recover(git, await this.commonDirOf(git))).recovery;
  }

  async changes(repository: string, base: string, head: string): Promise<GitChanges> {
    assertSafeRef(base, 'base');
    assertSafeRef(head, 'head');
    return countChanges(await this.checkedGit(repository), base, head);
  }

  async diff(repository: string, base: string, head: string): Promise<string> {
    assertSafeRef(base, 'base');
    assertSafeRef(head, 'head');
    const git = await this.checkedGit(repository);
    return git.text(['diff', '--no-ext-diff', '--no-textconv', '--no-color', base, head, '--'], `diff ${base}..${head}`);
  }

  async diffFiles(repository: string, base: string, head: string): Promise<GitFileDiff[]> {
    assertSafeRef(base, 'base');
    assertSafeRef(head, 'head');
    const git = await this.checkedGit(repository);
    // Two commands read the same two commits, so their files come in the same order.
    const from = await resolveCommit(git, base);
    const to = await resolveCommit(git, head);
    // Explicit where the repository's config could change what is read (prefixes, relative paths, submodule logs).
    const diff = ['diff', '--no-ext-diff', '--no-textconv', '--no-color', '--find-renames', '--no-relative', '--submodule=short'];
    const summary = await git.text([...diff, '--raw', '--numstat', '-z', from, to, '--'], `summarize the diff ${base}..${head}`);
    const patch = await git.text([...diff, '--patch', '--src-prefix=a/', '--dst-prefix=b/', from, to, '--'], `diff ${base}..${head}`);
    return fileDiffs(parseDiffSummary(summary), patch);
  }

  /**
   * Removes what killed merges left (scratch worktrees, half-written journals), finishes or undoes
   * the move a journal records, and lists the worktrees that remain.
   */
  private async recover(git: CheckedGit, common: string): Promise<{ recovery: GitMergeRecovery; worktrees: ListedWorktree[] }> {
    let worktrees = await listedWorktrees(git);
    const scratchRoot = join(common, SCRATCH_DIR);
    const scratch = worktrees.filter((w) => w.path.startsWith(`${scratchRoot}/`));
    if (scratch.length > 0 || (await readdir(scratchRoot).catch(() => [])).length > 0) {
      await this.removeScratchWorktrees(git, common, scratchRoot);
      worktrees = worktrees.filter((w) => !scratch.includes(w));
    }
    for (const name of await readdir(common)) {
      if (name.startsWith(`${MERGE_JOURNAL}.`) && name.endsWith('.tmp')) await rm(join(common, name), { force: true });
    }
    const text = await readFile(join(common, MERGE_JOURNAL), 'utf8').catch(() => null);
    if (text === null) return { recovery: 'none', worktrees };
    const journal = parseMergeJournal(text);
    let recovery: GitMergeRecovery = 'discarded';
    if (journal) {
      // A move is one git command; killed, it may leave its locks and, in the worktree, part of the files.
      await rm(join(common, 'refs', 'heads', `${journal.target}.lock`), { force: true });
      const [now] = await objectIds(git, [`refs/heads/${journal.target}^{commit}`]);
      if (now === journal.next) recovery = 'rolled-forward';
      // Only a worktree of this repository still on the target: the journal is in a directory models can write.
      const checkedOut = worktrees.some((w) => w.path === journal.worktree && w.branch === journal.target);
      if (checkedOut && (now === journal.next || now === journal.previous)) await this.settleWorktree(git, journal, now!);
    }
    await rm(join(common, MERGE_JOURNAL), { force: true });
    return { recovery, worktrees };
  }

  /** A merge or squash commit on `previous`, made from the merged tree without touching any worktree. */
  private async mergeCommit(git: CheckedGit, previous: string, source: string, request: GitMergeRequest): Promise<Planned> {
    const merged = await git.run(['merge-tree', '--write-tree', '--name-only', '-z', '--no-messages', previous, source], `merge ${request.source} with ${request.target}`, {
      answers: [1],
    });
    const { tree, conflicts } = parseMergeTree(merged.stdout);
    if (merged.exitCode === 1) return { kind: 'conflict', files: conflicts };
    const parents = request.strategy === 'squash' ? ['-p', previous] : ['-p', previous, '-p', source];
    if (request.strategy === 'squash' && tree === (await resolveTree(git, previous))) return { kind: 'up-to-date', commit: previous };
    // The message on stdin: nothing in it can be read as an option.
    const commit = await git.text(['commit-tree', tree, ...parents], `commit the merge of ${request.source} into ${request.target}`, {
      env: identity(request.author),
      input: request.message,
    });
    return { kind: 'commit', commit: commit.trim() };
  }

  /**
   * The commits `source` has and `previous` lacks, replayed on `previous` in a scratch worktree
   * (git 2.39's merge-tree takes no merge base, so each pick needs a checkout). Authors are kept.
   */
  private async replay(repository: string, git: CheckedGit, common: string, previous: string, source: string, request: GitMergeRequest): Promise<Planned> {
    // As git rebase: merges dropped, and commits whose change the target already has (same patch id).
    const listed = await git.text(
      ['rev-list', '--reverse', '--topo-order', '--no-merges', '--right-only', '--cherry-pick', `${previous}...${source}`],
      `list the commits of ${request.source} to replay`,
    );
    const commits = listed.split('\n').filter(Boolean);
    if (commits.length === 0) return { kind: 'up-to-date', commit: previous };
    const scratch = join(common, SCRATCH_DIR, randomBytes(8).toString('hex'));
    await mkdir(dirname(scratch), { recursive: true });
    try {
      await this.addDetachedWorktree(repository, scratch, previous);
      const there = await this.checkedGit(scratch);
      const picked = await there.run(
        ['cherry-pick', '--allow-empty', '--keep-redundant-commits', '--no-rerere-autoupdate', ...commits],
        `replay ${request.source} on ${request.target}`,
        { answers: [1], env: committer(request.author) },
      );
      if (picked.exitCode === 1) {
        const files = await unmergedFiles(there);
        await there.run(['cherry-pick', '--abort'], `abort replaying ${request.source}`, { answers: [128] });
        if (files.length === 0) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not replay ${request.source} on ${request.target}: ${picked.stdout.trim()}`);
        return { kind: 'conflict', files };
      }
      return { kind: 'commit', commit: await resolveCommit(there, 'HEAD') };
    } finally {
      await this.removeScratch(git, scratch);
    }
  }

  /**
   * Moves `target` from `previous` to `next` after journaling the move. Checked out, the branch moves
   * with its files by `git merge --ff-only` in its worktree; otherwise by a compare-and-swap
   * update-ref. A target that moved meanwhile fails with GIT_FAILED and nothing changed.
   */
  private async moveBranch(git: CheckedGit, there: CheckedGit | null, common: string, journal: MergeJournal, author: GitAuthor): Promise<void> {
    const { target, previous, next } = journal;
    await writeJournal(common, journal);
    try {
      if (there) {
        const head = await resolveCommit(there, 'HEAD');
        if (head !== previous) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not move ${target}: it moved from ${previous} to ${head} during the merge`);
        await there.text(['merge', '--ff-only', ...QUIET_MERGE, '--end-of-options', next], `move ${target} to ${next} in ${there.directory}`, { env: identity(author) });
      } else {
        await git.text(['update-ref', '-m', `merge into ${target}`, `refs/heads/${target}`, next, previous], `move ${target} from ${previous} to ${next}`, {
          env: identity(author),
        });
      }
    } catch (err) {
      // git checks before it writes: failed, the branch and the files are as they were.
      const [now] = await objectIds(git, [`refs/heads/${target}^{commit}`]);
      if (now !== next) await rm(join(common, MERGE_JOURNAL), { force: true });
      throw err;
    }
    await rm(join(common, MERGE_JOURNAL), { force: true });
  }

  /**
   * After a move into the worktree that had `target` checked out was interrupted, puts the files the
   * move touches back in line with where the branch is (`now`): `git merge --ff-only` writes the files
   * and the index before it moves the branch. The worktree was clean before the move and the
   * files outside `previous..next` are left alone, so what is restored is what the move was writing.
   */
  private async settleWorktree(git: CheckedGit, journal: MergeJournal, now: string): Promise<void> {
    const worktree = journal.worktree!;
    const there = await this.checkedGit(worktree);
    const gitDir = (await there.text(['rev-parse', '--absolute-git-dir'], `find the git directory of ${worktree}`)).trim();
    await rm(join(gitDir, 'index.lock'), { force: true });
    await rm(join(gitDir, 'HEAD.lock'), { force: true });
    const dirty = new Set(await dirtyFiles(there));
    if (dirty.size === 0) return;
    const touched = await git.text(['diff', '--name-only', '-z', '--no-renames', journal.previous, journal.next, '--'], `list the files ${journal.target} moved`);
    const restore = touched.split('\0').filter((path) => dirty.has(path));
    for (const some of chunks(restore, PATHS_PER_COMMAND)) {
      await there.text(['--literal-pathspecs', 'reset', '--quiet', now, '--', ...some], `restore the index in ${worktree}`);
      const tracked = await there.text(['--literal-pathspecs', 'ls-files', '-z', '--', ...some], `list the files to restore in ${worktree}`);
      if (tracked) await there.text(['checkout-index', '--force', '--quiet', '-z', '--stdin'], `restore the files in ${worktree}`, { input: tracked });
      // What `now` lacks is untracked by now (the move may have written it while the index still had `previous`).
      await there.text(['--literal-pathspecs', 'clean', '-fxq', '--', ...some], `remove the files the move left in ${worktree}`);
    }
  }

  /**
   * Scratch worktrees of merges that were killed: their directories, then git's records of them.
   * git locks a worktree while it makes it ("initializing"), so a killed `worktree add` leaves a
   * locked record, out of prune's reach, and `worktree unlock` refuses it once its directory is
   * incomplete or gone ("is not a working tree"). So the records whose `gitdir` points into the
   * scratch directory are removed here, as prune would remove them unlocked
   * (`<common>/worktrees/<id>/`, gitrepository-layout(5)).
   */
  private async removeScratchWorktrees(git: CheckedGit, common: string, root: string): Promise<void> {
    await rm(root, { recursive: true, force: true });
    const records = join(common, 'worktrees');
    for (const id of await readdir(records).catch(() => [] as string[])) {
      const gitdir = await readFile(join(records, id, 'gitdir'), 'utf8').catch(() => null);
      if (gitdir !== null && resolve(records, id, gitdir.trim()).startsWith(`${root}/`)) await rm(join(records, id), { recursive: true, force: true });
    }
    await git.text(['worktree', 'prune'], `prune the scratch worktrees of ${git.directory}`);
  }

  private async removeScratch(git: CheckedGit, scratch: string): Promise<void> {
    const removed = await git.run(['worktree', 'remove', '--force', '--force', '--', scratch], `remove the scratch worktree ${scratch}`, { answers: [128] });
    if (removed.exitCode === 0) return;
    // Half made (add failed): no worktree git knows of, maybe a directory and a record.
    await rm(scratch, { recursive: true, force: true });
    await git.text(['worktree', 'prune'], `prune the scratch worktree ${scratch}`);
  }

  private async commonDirOf(git: CheckedGit): Promise<string> {
    // From the files that name it when `git.directory` is a work tree's top (no git process), else from git.
    const common = (await gitDirectories(git.directory))?.common ?? (await git.text(['rev-parse', '--path-format=absolute', '--git-common-dir'], `find the git directory of ${git.directory}`)).trim();
    return realpath(common);
  }

  private checkedGit(directory: string): Promise<CheckedGit> {
    return CheckedGit.open(directory);
  }
}

type Planned = { kind: 'commit'; commit: string } | Extract<GitMergeOutcome, { kind: 'up-to-date' | 'conflict' }>;

/**
 * Stages and commits every change, new files included; false when there was nothing to commit.
 * A merge in progress is concluded even when its result equals HEAD (it records the source).
 */
async function commitEverything(git: CheckedGit, message: string, author: GitAuthor): Promise<boolean> {
  // Both print what they did: simple-git waits 50 ms more after a command that printed nothing.
  await git.text(['add', '--all', '--verbose', '--', '.'], `stage the changes in ${git.directory}`);
  const made = await git.run(['commit', '--no-verify', '--no-gpg-sign', '--no-status', `--message=${message}`], `commit in ${git.directory}`, {
    env: identity(author),
    answers: [1],
  });
  if (made.exitCode === 0) return true;
  // 1 is "nothing to commit"; anything staged means the commit failed for another reason.
  const staged = await git.run(['diff', '--cached', '--quiet'], `compare the index with HEAD in ${git.directory}`, { answers: [1] });
  if (staged.exitCode === 0) return false;
  throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git could not commit in ${git.directory}: ${firstLine(made.stderr || made.stdout)}`);
}

async function countChanges(git: CheckedGit, base: string, head: string): Promise<GitChanges> {
  const numstat = await git.text(['diff', '--no-ext-diff', '--no-textconv', '--numstat', '-z', '--no-renames', base, head, '--'], `count the changes ${base}..${head}`);
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

/**
 * A slot's git directories and what its HEAD holds, from the files git keeps them in (a slot is a
 * worktree the orchestrator made: a `.git` file, HEAD a symbolic ref or a commit), else from git:
 * a run costs a git process less per question.
 */
async function slotState(git: CheckedGit): Promise<{ gitDir: string; common: string; branch: string | null; commit: string | null }> {
  const dirs = await gitDirectories(git.directory);
  const head = dirs ? await readFile(join(dirs.gitDir, 'HEAD'), 'utf8').catch(() => null) : null;
  const symbolic = head === null ? null : /^ref: refs\/heads\/(.+)\n?$/.exec(head);
  const detached = head === null ? null : /^([0-9a-f]{40}|[0-9a-f]{64})\n?$/.exec(head);
  if (dirs && (symbolic || detached)) return { ...dirs, branch: symbolic?.[1] ?? null, commit: detached?.[1] ?? null };
  const [gitDir, common] = (await git.text(['rev-parse', '--path-format=absolute', '--absolute-git-dir', '--git-common-dir'], `find the git directories of ${git.directory}`)).split('\n');
  const branch = await currentBranch(git);
  return { gitDir, common, branch, commit: branch === null ? await resolveCommit(git, 'HEAD') : null };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function resolveCommit(git: CheckedGit, ref: string): Promise<string> {
  return (await git.text(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`], `resolve ${ref}`)).trim();
}

async function resolveTree(git: CheckedGit, commit: string): Promise<string> {
  return (await git.text(['rev-parse', '--verify', '--end-of-options', `${commit}^{tree}`], `resolve the tree of ${commit}`)).trim();
}

/** The object each of `names` (our own, checked) names, or null for one that names none. */
async function objectIds(git: CheckedGit, names: readonly string[]): Promise<Array<string | null>> {
  const found = await git.text(['cat-file', '--batch-check=%(objectname)'], `look up ${names.join(', ')} in ${git.directory}`, {
    input: names.map((name) => `${name}\n`).join(''),
  });
  const lines = found.split('\n');
  return names.map((_, i) => (/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(lines[i] ?? '') ? lines[i] : null));
}

async function branchExists(git: CheckedGit, branch: string): Promise<boolean> {
  return (await objectIds(git, [`refs/heads/${branch}`]))[0] !== null;
}

/** The branch checked out, or null on a detached HEAD. */
async function currentBranch(git: CheckedGit): Promise<string | null> {
  const head = (await git.text(['rev-parse', '--symbolic-full-name', 'HEAD'], `read the branch of ${git.directory}`)).trim();
  return head.startsWith('refs/heads/') ? head.slice('refs/heads/'.length) : null;
}

async function mergeInProgress(git: CheckedGit): Promise<boolean> {
  return (await objectIds(git, ['MERGE_HEAD']))[0] !== null;
}

async function isAncestor(git: CheckedGit, ancestor: string, of: string): Promise<boolean> {
  const count = await git.text(['rev-list', '--count', '--max-count=1', `${of}..${ancestor}`], `compare ${ancestor} with ${of}`);
  return count.trim() === '0';
}

async function dirtyFiles(git: CheckedGit): Promise<string[]> {
  // --no-optional-locks: a status must not take the index lock of a worktree someone works in.
  const status = await git.text(['--no-optional-locks', 'status', '--porcelain=v1', '-z', '--branch', '--untracked-files=all', '--no-renames'], `read the status of ${git.directory}`);
  return parseStatusPaths(status);
}

async function unmergedFiles(git: CheckedGit): Promise<string[]> {
  const listed = await git.text(['diff', '--name-only', '--diff-filter=U', '-z'], `list the conflicting files in ${git.directory}`);
  return [...new Set(listed.split('\0').filter(Boolean))];
}

async function listedWorktrees(git: CheckedGit): Promise<ListedWorktree[]> {
  return parseWorktreeList(await git.text(['worktree', 'list', '--porcelain', '-z'], `list the worktrees of ${git.directory}`));
}

/** Written whole or not at all (a temporary file renamed), and on disk before the move starts. */
async function writeJournal(common: string, journal: MergeJournal): Promise<void> {
  const path = join(common, MERGE_JOURNAL);
  const temporary = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const file = await open(temporary, 'wx');
  try {
    await file.writeFile(JSON.stringify(journal));
    await file.sync();
  } finally {
    await file.close();
  }
  await asGitFailure(() => rename(temporary, path), `journal the merge into ${journal.target}`);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < items.length; i += size) result.push(items.slice(i, i + size));
  return result;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

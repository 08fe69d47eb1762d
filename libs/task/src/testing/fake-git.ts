import {
  GitMergeOutcome,
  GitMergeRequest,
  GitMergeSeriesOutcome,
  GitMergeSeriesRequest,
  GitSeriesItemOutcome,
  GitWorktree,
  WorkspaceError,
  WorkspaceErrorCode,
} from '@app/workspace';
import type { PlanGitPort } from '../application/integration-branches';

type Files = Record<string, string>;

interface FakeCommit {
  id: string;
  /** Order of creation: the newest common ancestor is the merge base. */
  seq: number;
  parents: string[];
  files: Files;
  message: string;
}

interface FakeRepository {
  root: string;
  commits: Map<string, FakeCommit>;
  branches: Map<string, string>;
  /** The branch checked out at the top; null: a detached HEAD at `detachedAt`. */
  checkedOut: string | null;
  detachedAt: string | null;
}

/**
 * Git as plans use it, in memory: repositories of commits holding whole file maps, branches, and
 * three-way merges at file level (a file both sides changed differently conflicts; like the real
 * adapter, a merge always makes a merge commit, never a fast-forward). Enough to
 * drive the scheduler's merge queue and a plan's merge through every outcome without a disk.
 */
export class FakeGit implements PlanGitPort {
  readonly repositories = new Map<string, FakeRepository>();
  /** Every merge asked for, in order. */
  readonly merges: Array<GitMergeRequest & { repository: string }> = [];
  /** Branches whose work tree has uncommitted changes (by branch): a merge into one answers `dirty`. */
  readonly dirty = new Map<string, string[]>();
  private seq = 0;

  /** A repository at `root` with one commit on `main`, checked out at the top. */
  init(root: string, files: Files = { 'README.md': 'hello\n' }): string {
    const repo: FakeRepository = { root, commits: new Map(), branches: new Map(), checkedOut: 'main', detachedAt: null };
    this.repositories.set(root, repo);
    const first = this.newCommit(repo, [], files, 'initial');
    repo.branches.set('main', first);
    return first;
  }

  /** A commit on `branch` changing `files` (null: deleted); the new commit. */
  commit(root: string, branch: string, files: Record<string, string | null>, message = 'change', extraParents: string[] = []): string {
    const repo = this.repo(root);
    const head = this.resolve(repo, branch);
    const next = { ...repo.commits.get(head)!.files };
    for (const [path, content] of Object.entries(files)) {
      if (content === null) delete next[path];
      else next[path] = content;
    }
    const id = this.newCommit(repo, [head, ...extraParents], next, message);
    repo.branches.set(branch, id);
    return id;
  }

  /** The files at `ref`. */
  read(root: string, ref: string): Files {
    const repo = this.repo(root);
    return { ...repo.commits.get(this.resolve(repo, ref))!.files };
  }

  /** Detaches the top's HEAD (no branch checked out). */
  detach(root: string): void {
    const repo = this.repo(root);
    repo.detachedAt = this.resolve(repo, 'HEAD');
    repo.checkedOut = null;
  }

  /** The repository a directory is in (sync, for the session fake). */
  rootOf(directory: string): string | null {
    return [...this.repositories.keys()].find((root) => directory === root || directory.startsWith(`${root}/`)) ?? null;
  }

  commitOfSync(root: string, ref: string): string {
    return this.resolve(this.repo(root), ref);
  }

  /** Points `branch` at `ref`'s commit (made when missing). */
  setBranch(root: string, branch: string, ref: string): void {
    const repo = this.repo(root);
    repo.branches.set(branch, this.resolve(repo, ref));
  }

  /**
   * `theirs` merged into `ours` file by file against their newest common ancestor: the merged
   * files, and the files both changed differently (left holding conflict markers).
   */
  mergeFiles(root: string, ours: string, theirs: string): { files: Files; conflicts: string[] } {
    const repo = this.repo(root);
    const [o, t] = [this.resolve(repo, ours), this.resolve(repo, theirs)];
    const base = repo.commits.get(this.mergeBase(repo, o, t))!.files;
    const [a, b] = [repo.commits.get(o)!.files, repo.commits.get(t)!.files];
    const files: Files = {};
    const conflicts: string[] = [];
    for (const path of new Set([...Object.keys(base), ...Object.keys(a), ...Object.keys(b)])) {
      const [was, mine, theirsNow] = [base[path], a[path], b[path]];
      if (mine !== theirsNow && mine !== was && theirsNow !== was) {
        conflicts.push(path);
        files[path] = `<<<<<<< ours\n${mine ?? ''}=======\n${theirsNow ?? ''}>>>>>>> theirs\n`;
        continue;
      }
      const merged = theirsNow === was ? mine : theirsNow;
      if (merged !== undefined) files[path] = merged;
    }
    return { files, conflicts: conflicts.sort() };
  }

  async workTreeRoot(directory: string): Promise<string | null> {
    return this.rootOf(directory);
  }

  async commitOf(repository: string, ref: string): Promise<string> {
    return this.resolve(this.repo(repository), ref);
  }

  async changes(repository: string, base: string, head: string): Promise<{ files: string[]; insertions: number; deletions: number }> {
    const repo = this.repo(repository);
    const [from, to] = [repo.commits.get(this.resolve(repo, base))!.files, repo.commits.get(this.resolve(repo, head))!.files];
    const files = [...new Set([...Object.keys(from), ...Object.keys(to)])].filter((p) => from[p] !== to[p]).sort();
    const lines = (text: string | undefined) => (text ? text.split('\n').filter((l) => l !== '').length : 0);
    return { files, insertions: files.reduce((n, p) => n + lines(to[p]), 0), deletions: files.reduce((n, p) => n + lines(from[p]), 0) };
  }

  async createBranch(repository: string, branch: string, commit: string): Promise<void> {
    const repo = this.repo(repository);
    if (repo.branches.has(branch)) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `a branch named '${branch}' already exists`);
    repo.branches.set(branch, this.resolve(repo, commit));
  }

  async branchExists(repository: string, branch: string): Promise<boolean> {
    return this.repo(repository).branches.has(branch);
  }

  async deleteBranch(repository: string, branch: string): Promise<void> {
    this.repo(repository).branches.delete(branch);
  }

  async checkedOutBranch(worktree: string): Promise<string | null> {
    return this.repo(worktree).checkedOut;
  }

  async listWorktrees(repository: string): Promise<GitWorktree[]> {
    const repo = this.repo(repository);
    return [{ path: repo.root, head: this.resolve(repo, 'HEAD'), branch: repo.checkedOut }];
  }

  async merge(repository: string, request: GitMergeRequest): Promise<GitMergeOutcome> {
    this.merges.push({ ...request, repository });
    const repo = this.repo(repository);
    const source = this.resolve(repo, request.source);
    const previous = repo.branches.get(request.target);
    if (!previous) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `${request.target} is not a branch`);
    const dirty = this.dirty.get(request.target);
    if (dirty) return { kind: 'dirty', worktree: repo.root, files: dirty };
    if (this.isAncestor(repo, source, previous)) return { kind: 'up-to-date', commit: previous };
    const { files, conflicts } = this.mergeFiles(repository, previous, source);
    if (conflicts.length > 0) return { kind: 'conflict', files: conflicts };
    const parents = request.strategy === 'merge' ? [previous, source] : [previous];
    const commit = this.newCommit(repo, parents, files, request.message);
    repo.branches.set(request.target, commit);
    return { kind: 'merged', commit, previous };
  }

  /** As the adapter: each item merged onto the one before (a conflict skipped), the branch moved once. */
  async mergeSeries(repository: string, request: GitMergeSeriesRequest): Promise<GitMergeSeriesOutcome> {
    const repo = this.repo(repository);
    const previous = repo.branches.get(request.target);
    if (!previous) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `${request.target} is not a branch`);
    const dirty = this.dirty.get(request.target);
    if (dirty) return { kind: 'dirty', worktree: repo.root, files: dirty };
    const sources = request.items.map((item) => this.resolve(repo, item.source));
    const outcomes: GitSeriesItemOutcome[] = [];
    let head = previous;
    for (const [i, item] of request.items.entries()) {
      this.merges.push({ source: item.source, target: request.target, strategy: 'merge', message: item.message, author: request.author, repository });
      if (this.isAncestor(repo, sources[i], head)) {
        outcomes.push({ kind: 'up-to-date', commit: head });
        continue;
      }
      const { files, conflicts } = this.mergeFiles(repository, head, sources[i]);
      if (conflicts.length > 0) {
        outcomes.push({ kind: 'conflict', files: conflicts });
        continue;
      }
      const commit = this.newCommit(repo, [head, sources[i]], files, item.message);
      outcomes.push({ kind: 'merged', commit, previous: head });
      head = commit;
    }
    repo.branches.set(request.target, head);
    return { kind: 'done', outcomes };
  }

  private repo(root: string): FakeRepository {
    const repo = this.repositories.get(root);
    if (!repo) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `not a git repository: ${root}`);
    return repo;
  }

  private resolve(repo: FakeRepository, ref: string): string {
    if (ref === 'HEAD') return repo.checkedOut ? repo.branches.get(repo.checkedOut)! : repo.detachedAt!;
    const id = repo.branches.get(ref) ?? (repo.commits.has(ref) ? ref : undefined);
    if (!id) throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `unknown revision ${ref}`);
    return id;
  }

  private newCommit(repo: FakeRepository, parents: string[], files: Files, message: string): string {
    const seq = ++this.seq;
    const id = seq.toString(16).padStart(40, 'c');
    repo.commits.set(id, { id, seq, parents, files: { ...files }, message });
    return id;
  }

  private ancestors(repo: FakeRepository, id: string): Set<string> {
    const seen = new Set<string>();
    const stack = [id];
    while (stack.length) {
      const next = stack.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      stack.push(...repo.commits.get(next)!.parents);
    }
    return seen;
  }

  private isAncestor(repo: FakeRepository, ancestor: string, of: string): boolean {
    return this.ancestors(repo, of).has(ancestor);
  }

  private mergeBase(repo: FakeRepository, a: string, b: string): string {
    const ofB = this.ancestors(repo, b);
    const common = [...this.ancestors(repo, a)].filter((id) => ofB.has(id));
    return common.reduce((best, id) => (repo.commits.get(id)!.seq > repo.commits.get(best)!.seq ? id : best));
  }
}

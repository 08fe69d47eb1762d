import { WorkspaceError, WorkspaceErrorCode } from './workspace.errors';

// Readers of git's NUL-separated (`-z`) output. Names in it are the repository's, so they are taken
// by position, never by pattern: a file may be called anything but NUL.

export type GitFileStatus = 'added' | 'modified' | 'deleted' | 'renamed';

export interface ListedWorktree {
  path: string;
  /** Null while the branch has no commit yet. */
  head: string | null;
  /** The short branch name, or null when HEAD is detached. */
  branch: string | null;
  /** Locked worktrees survive `git worktree prune` (git locks one while it is being made). */
  locked: boolean;
  /** Its directory (or the `.git` file in it) is gone: `git worktree prune` forgets it unless it is locked. */
  prunable: boolean;
}

/** `git worktree list --porcelain -z`: `key value` fields, a record per worktree ended by an empty field. */
export function parseWorktreeList(output: string): ListedWorktree[] {
  const worktrees: ListedWorktree[] = [];
  let current: ListedWorktree | null = null;
  for (const field of output.split('\0')) {
    if (field.startsWith('worktree ')) {
      current = { path: field.slice('worktree '.length), head: null, branch: null, locked: false, prunable: false };
      worktrees.push(current);
    } else if (!current) {
      continue;
    } else if (field === '') {
      current = null;
    } else if (field.startsWith('HEAD ')) {
      const head = field.slice('HEAD '.length);
      current.head = /^0+$/.test(head) ? null : head;
    } else if (field.startsWith('branch ')) {
      current.branch = field.slice('branch '.length).replace(/^refs\/heads\//, '');
    } else if (field === 'locked' || field.startsWith('locked ')) {
      current.locked = true;
    } else if (field === 'prunable' || field.startsWith('prunable ')) {
      current.prunable = true;
    }
  }
  return worktrees;
}

/**
 * The paths `git status --porcelain=v1 -z [--branch]` names: `XY path` entries, a rename's or copy's
 * origin in the next field; the branch line (`## main`) is no path (X is never `#`).
 */
export function parseStatusPaths(output: string): string[] {
  const fields = output.split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i];
    if (entry.length < 4 || entry.startsWith('## ')) continue;
    paths.push(entry.slice(3));
    if (/[RC]/.test(entry.slice(0, 2)) && i + 1 < fields.length) paths.push(fields[++i]);
  }
  return paths;
}

export interface DiffSummaryEntry {
  status: GitFileStatus;
  path: string;
  /** The path before a rename, else null. */
  oldPath: string | null;
  insertions: number;
  deletions: number;
  binary: boolean;
  /** A file that became a symlink, a submodule or the other way: its patch comes as a deletion and an addition. */
  typeChanged: boolean;
}

/**
 * `git diff --raw --numstat -z`: every file's raw record (`:modes ids status`, then one path, or two
 * for a rename or copy), then every file's numstat record in the same order (`added\tdeleted\tpath`,
 * or `added\tdeleted\t` and two paths; `-` counts for a binary file).
 */
export function parseDiffSummary(output: string): DiffSummaryEntry[] {
  const fields = output.split('\0');
  const entries: DiffSummaryEntry[] = [];
  let i = 0;
  while (i < fields.length && fields[i].startsWith(':')) {
    const letter = fields[i].split(' ')[4]?.charAt(0) ?? '';
    i++;
    const twoPaths = letter === 'R' || letter === 'C';
    const oldPath = twoPaths ? fields[i++] : null;
    const path = fields[i++];
    if (path === undefined || oldPath === undefined) throw unexpected('a raw record lacks its path');
    const status: GitFileStatus = letter === 'A' || letter === 'C' ? 'added' : letter === 'D' ? 'deleted' : letter === 'R' ? 'renamed' : 'modified';
    entries.push({ status, path, oldPath: letter === 'R' ? oldPath : null, insertions: 0, deletions: 0, binary: false, typeChanged: letter === 'T' });
  }
  for (const entry of entries) {
    const counts = /^(-|\d+)\t(-|\d+)\t/.exec(fields[i] ?? '');
    if (!counts) throw unexpected(`no line counts for ${entry.path}`);
    // With the paths in the next two fields (a rename or copy), the record ends after the counts.
    i += fields[i] === counts[0] ? 3 : 1;
    entry.binary = counts[1] === '-';
    entry.insertions = entry.binary ? 0 : Number(counts[1]);
    entry.deletions = entry.binary ? 0 : Number(counts[2]);
  }
  return entries;
}

/** `git merge-tree --write-tree --name-only -z --no-messages`: the merged tree, then each conflicting path. */
export function parseMergeTree(output: string): { tree: string; conflicts: string[] } {
  const [tree = '', ...paths] = output.split('\0');
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(tree)) throw unexpected('merge-tree named no tree');
  return { tree, conflicts: [...new Set(paths.filter((p) => p !== ''))] };
}

function unexpected(what: string): WorkspaceError {
  return new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `git's output could not be read: ${what}`);
}

import { parseDiffSummary, parseMergeTree, parseStatusPaths, parseWorktreeList } from './git-output';
import { WorkspaceErrorCode } from './workspace.errors';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);

describe('git output', () => {
  it('reads the worktree list: branches short, detached and unborn heads null, locks and prunable records seen', () => {
    const output = [
      `worktree /repo`,
      `HEAD ${A}`,
      `branch refs/heads/main`,
      ``,
      `worktree /slots/with\nnewline and branch refs/heads/x`,
      `HEAD ${B}`,
      `detached`,
      `locked initializing`,
      ``,
      `worktree /new`,
      `HEAD ${'0'.repeat(40)}`,
      `branch refs/heads/orchestrator/plan-1a2b3c4d`,
      `prunable gitdir file points to non-existent location`,
      ``,
      ``,
    ].join('\0');
    expect(parseWorktreeList(output)).toEqual([
      { path: '/repo', head: A, branch: 'main', locked: false, prunable: false },
      { path: '/slots/with\nnewline and branch refs/heads/x', head: B, branch: null, locked: true, prunable: false },
      { path: '/new', head: null, branch: 'orchestrator/plan-1a2b3c4d', locked: false, prunable: true },
    ]);
    expect(parseWorktreeList('')).toEqual([]);
  });

  it('reads the paths of a status, whatever they are called, a rename’s origin included', () => {
    const output = ['## main...origin/main [ahead 1]', ' M src/a.ts', '?? new dir/-rf', 'R  to.txt', 'from.txt', 'D  "quoted".md', '?? ## x'].join('\0') + '\0';
    expect(parseStatusPaths(output)).toEqual(['src/a.ts', 'new dir/-rf', 'to.txt', 'from.txt', '"quoted".md', '## x']);
    expect(parseStatusPaths('## HEAD (no branch)\0')).toEqual([]);
    expect(parseStatusPaths('')).toEqual([]);
  });

  it('reads a diff summary: raw records then numstat records, renames and binaries included', () => {
    const raw = (modes: string, status: string) => `:${modes} ${A.slice(0, 7)} ${B.slice(0, 7)} ${status}`;
    const output =
      [
        raw('000000 100644', 'A'),
        'bin',
        raw('100644 100644', 'M'),
        ':odd name',
        raw('120000 100644', 'T'),
        'link',
        raw('100644 100644', 'R100'),
        'sp ace',
        'sp ace2',
        raw('100644 000000', 'D'),
        'gone.txt',
        '-\t-\tbin',
        '1\t1\t:odd name',
        '1\t1\tlink',
        '0\t0\t',
        'sp ace',
        'sp ace2',
        '0\t3\tgone.txt',
      ].join('\0') + '\0';
    expect(parseDiffSummary(output)).toEqual([
      { status: 'added', path: 'bin', oldPath: null, insertions: 0, deletions: 0, binary: true, typeChanged: false },
      { status: 'modified', path: ':odd name', oldPath: null, insertions: 1, deletions: 1, binary: false, typeChanged: false },
      { status: 'modified', path: 'link', oldPath: null, insertions: 1, deletions: 1, binary: false, typeChanged: true },
      { status: 'renamed', path: 'sp ace2', oldPath: 'sp ace', insertions: 0, deletions: 0, binary: false, typeChanged: false },
      { status: 'deleted', path: 'gone.txt', oldPath: null, insertions: 0, deletions: 3, binary: false, typeChanged: false },
    ]);
    expect(parseDiffSummary('')).toEqual([]);
  });

  it('fails on a summary it cannot follow instead of guessing', () => {
    expect(() => parseDiffSummary(`:100644 100644 ${A} ${B} M\0a\0`)).toThrow(expect.objectContaining({ code: WorkspaceErrorCode.GIT_FAILED }));
  });

  it('reads the merged tree and the conflicting paths of merge-tree', () => {
    expect(parseMergeTree(`${A}\0`)).toEqual({ tree: A, conflicts: [] });
    expect(parseMergeTree(`${A}\0f\0dir/g h\0f\0`)).toEqual({ tree: A, conflicts: ['f', 'dir/g h'] });
    expect(() => parseMergeTree('fatal: refusing to merge unrelated histories\n')).toThrow(expect.objectContaining({ code: WorkspaceErrorCode.GIT_FAILED }));
  });
});

import type { DiffSummaryEntry } from '../domain/git-output';
import { WorkspaceErrorCode } from '../domain/workspace.errors';
import { fileDiffs } from './git-file-diffs';

describe('fileDiffs', () => {
  const entry = (path: string, more: Partial<DiffSummaryEntry> = {}): DiffSummaryEntry => ({
    status: 'modified',
    path,
    oldPath: null,
    insertions: 1,
    deletions: 1,
    binary: false,
    typeChanged: false,
    ...more,
  });

  it('takes names from the summary, not from the patch headers a file name can fake', () => {
    const patch = ['diff --git a/x b/y b/x b/y b/z', 'index 1111111..2222222 100644', '--- a/x b/y', '+++ b/x b/y', '@@ -1 +1 @@', '-old', '+new', ''].join('\n');
    expect(fileDiffs([entry('x b/y')], patch)).toEqual([
      {
        path: 'x b/y',
        oldPath: null,
        status: 'modified',
        insertions: 1,
        deletions: 1,
        binary: false,
        hunks: [{ header: '@@ -1 +1 @@', oldStart: 1, oldLines: 1, newStart: 1, newLines: 1, lines: ['-old', '+new'] }],
      },
    ]);
  });

  it('joins the deletion and the addition git prints for a type change, and keeps empty context lines', () => {
    const patch = [
      'diff --git a/link b/link',
      'deleted file mode 120000',
      'index 1111111..0000000',
      '--- a/link',
      '+++ /dev/null',
      '@@ -1 +0,0 @@',
      '-target',
      '\\ No newline at end of file',
      'diff --git a/link b/link',
      'new file mode 100644',
      'index 0000000..2222222',
      '--- /dev/null',
      '+++ b/link',
      '@@ -0,0 +1,2 @@',
      '+a',
      '+b',
      'diff --git a/mod b/mod',
      'index 5555555..6666666 100644',
      '--- a/mod',
      '+++ b/mod',
      '@@ -1,3 +1,3 @@',
      '-x',
      '+y',
      '', // an empty context line, as diff.suppressBlankEmpty writes it
      ' z',
      'diff --git a/bin b/bin',
      'index 3333333..4444444 100644',
      'Binary files a/bin and b/bin differ',
      '',
    ].join('\n');
    const diffs = fileDiffs([entry('link', { typeChanged: true }), entry('mod'), entry('bin', { binary: true, insertions: 0, deletions: 0 })], patch);
    expect(diffs.map((d) => [d.path, d.hunks.map((h) => h.lines)])).toEqual([
      ['link', [['-target', '\\ No newline at end of file'], ['+a', '+b']]],
      ['mod', [['-x', '+y', ' ', ' z']]],
      ['bin', []],
    ]);
  });

  it('fails when the patch and the summary disagree on the files', () => {
    expect(() => fileDiffs([entry('a'), entry('b')], 'diff --git a/a b/a\n')).toThrow(expect.objectContaining({ code: WorkspaceErrorCode.GIT_FAILED }));
  });
});

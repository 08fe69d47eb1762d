import parseDiff from 'parse-diff';
import type { GitDiffHunk, GitFileDiff } from '../application/git.port';
import type { DiffSummaryEntry } from '../domain/git-output';
import { WorkspaceError, WorkspaceErrorCode } from '../domain/workspace.errors';

/**
 * Joins git's summary of a diff (statuses, paths, counts: exact, from `-z` output) with the hunks
 * parse-diff reads from the patch of the same diff. The patch's file headers are not trusted for
 * names (a name may hold spaces, quotes or ` b/`); its files come in the summary's order, a type
 * change as two (the old file deleted, the new one added).
 */
export function fileDiffs(summary: readonly DiffSummaryEntry[], patch: string): GitFileDiff[] {
  const patched = parseDiff(patch);
  const expected = summary.reduce((n, entry) => n + (entry.typeChanged ? 2 : 1), 0);
  if (patched.length !== expected) {
    throw new WorkspaceError(WorkspaceErrorCode.GIT_FAILED, `the diff could not be read: ${summary.length} file(s) changed, ${patched.length} in the patch`);
  }
  let next = 0;
  return summary.map((entry) => {
    const files = patched.slice(next, (next += entry.typeChanged ? 2 : 1));
    return {
      path: entry.path,
      oldPath: entry.oldPath,
      status: entry.status,
      insertions: entry.insertions,
      deletions: entry.deletions,
      binary: entry.binary,
      hunks: files.flatMap((file) => file.chunks.map(hunk)),
    };
  });
}

function hunk(chunk: parseDiff.Chunk): GitDiffHunk {
  return {
    header: chunk.content,
    oldStart: chunk.oldStart,
    oldLines: chunk.oldLines,
    newStart: chunk.newStart,
    newLines: chunk.newLines,
    // diff.suppressBlankEmpty makes git drop the space of an empty context line.
    lines: chunk.changes.map((change) => (change.type === 'normal' && change.content === '' ? ' ' : change.content)),
  };
}

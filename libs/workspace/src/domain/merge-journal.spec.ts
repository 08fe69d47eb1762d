import { MergeJournal, parseMergeJournal } from './merge-journal';

describe('merge journal', () => {
  const journal: MergeJournal = { target: 'main', previous: 'a'.repeat(40), next: 'b'.repeat(40), worktree: '/repo', at: '2026-01-01T00:00:00.000Z' };

  it('reads back what a merge wrote, with or without a worktree', () => {
    expect(parseMergeJournal(JSON.stringify(journal))).toEqual(journal);
    expect(parseMergeJournal(JSON.stringify({ ...journal, worktree: null }))).toEqual({ ...journal, worktree: null });
  });

  it.each([
    ['not JSON', '{"target":'],
    ['not an object', '"main"'],
    ['an option for a target', JSON.stringify({ ...journal, target: '--upload-pack=x' })],
    ['a range for a commit', JSON.stringify({ ...journal, previous: 'HEAD~1' })],
    ['a relative worktree', JSON.stringify({ ...journal, worktree: '../elsewhere' })],
    ['no time', JSON.stringify({ ...journal, at: undefined })],
  ])('refuses a journal with %s', (_what, text) => {
    expect(parseMergeJournal(text)).toBeNull();
  });
});

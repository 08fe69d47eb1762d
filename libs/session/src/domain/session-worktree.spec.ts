import { ZERO_USAGE } from '@app/shared';
import { Session } from './session';
import { SessionError, SessionErrorCode } from './session.errors';
import { newSessionWorktree, worktreeCommitMessage } from './session-worktree';

const worktree = () =>
  newSessionWorktree({ repository: '/r', subdirectory: '', branch: 'orchestrator/abcd1234-x', baseRef: null, baseCommit: 'b'.repeat(40) });

function isolated(): Session {
  return Session.create({ title: 't', prompt: 'p', workspace: '/r', opencodeAgent: 'build', timeoutSeconds: 60, worktree: worktree() });
}

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof SessionError ? err.code : 'not a SessionError';
  }
  return undefined;
}

describe('A session in a worktree', () => {
  it('is "worktree" with a branch at its base commit, or "shared" without one', () => {
    const s = isolated().snapshot();
    expect(s.isolation).toBe('worktree');
    expect(s.worktree).toMatchObject({ state: 'ACTIVE', headCommit: 'b'.repeat(40), files: [], insertions: 0, deletions: 0, slot: null, merge: null });
    expect(Session.create({ title: 't', prompt: 'p', workspace: '/r', opencodeAgent: 'build', timeoutSeconds: 60 }).snapshot()).toMatchObject({
      isolation: 'shared',
      worktree: null,
    });
  });

  it('records its slot while running, and its changes (freeing the slot) after the run', () => {
    const s = isolated();
    expect(codeOf(() => s.useSlot('/w/slot-0'))).toBe(SessionErrorCode.INVALID_TRANSITION); // not RUNNING
    s.queue();
    s.markRunning();
    s.useSlot('/w/slot-0');
    expect(s.worktree?.slot).toBe('/w/slot-0');
    s.recordChanges({ headCommit: 'h'.repeat(40), files: ['a.txt'], insertions: 3, deletions: 1 });
    expect(s.worktree).toMatchObject({ headCommit: 'h'.repeat(40), files: ['a.txt'], insertions: 3, deletions: 1, slot: null, state: 'ACTIVE' });
  });

  it('is merged or dropped only when no run may still commit, and only once', () => {
    const s = isolated();
    s.queue();
    expect(codeOf(() => s.assertMergeable())).toBe(SessionErrorCode.SESSION_RUNNING);
    expect(codeOf(() => s.dropWorktree('DISCARDED'))).toBe(SessionErrorCode.SESSION_RUNNING);
    s.markRunning();
    s.complete({ summary: 'ok', filesChanged: [] }, ZERO_USAGE);
    const at = new Date();
    s.recordMerged({ target: 'main', strategy: 'squash', commit: 'c'.repeat(40), at });
    expect(s.worktree).toMatchObject({ state: 'MERGED', merge: { target: 'main', strategy: 'squash', commit: 'c'.repeat(40), at } });
    expect(codeOf(() => s.recordMerged({ target: 'main', strategy: 'merge', commit: 'd'.repeat(40), at }))).toBe(SessionErrorCode.WORKTREE_GONE);
    expect(codeOf(() => s.dropWorktree('DISCARDED'))).toBe(SessionErrorCode.WORKTREE_GONE);
  });

  it('cannot be retried once its branch is gone: the retry would have nothing to continue from', () => {
    const s = isolated();
    s.queue();
    s.markRunning();
    s.fail({ code: 'X', message: 'x' }, null);
    s.dropWorktree('EXPIRED');
    expect(codeOf(() => s.retry())).toBe(SessionErrorCode.WORKTREE_GONE);
  });

  it('refuses branch operations on a shared session with NO_WORKTREE', () => {
    const s = Session.create({ title: 't', prompt: 'p', workspace: '/r', opencodeAgent: 'build', timeoutSeconds: 60 });
    expect(codeOf(() => s.assertMergeable())).toBe(SessionErrorCode.NO_WORKTREE);
    expect(codeOf(() => s.dropWorktree('DISCARDED'))).toBe(SessionErrorCode.NO_WORKTREE);
  });

  it('commits with the title as subject and the session id in the body', () => {
    expect(worktreeCommitMessage('  Add   a\nhealth endpoint ', 'id-1', 2)).toBe('Add a health endpoint\n\nOrchestrator-Session: id-1\nOrchestrator-Attempt: 2\n');
    expect(worktreeCommitMessage('x'.repeat(100), 'id', 1).split('\n')[0]).toHaveLength(72);
  });
});

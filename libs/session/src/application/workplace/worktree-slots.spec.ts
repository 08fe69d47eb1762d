import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppConfig } from '@app/config';
import { InMemoryLocks } from '@app/locking/testing';
import { git, makeTempWorkspace } from '@app/testing';
import { testGit, testWorkspaces } from '@app/workspace/testing';
import { Session } from '../../domain/session';
import { newSessionWorktree } from '../../domain/session-worktree';
import { sessionLockOwner } from './workspace-lock';
import { BRANCH_FREED_WAIT_MS, slotLockResource, WorktreeSlots } from './worktree-slots';

/** Real git in real slots; only the lock is in memory. */
describe('WorktreeSlots.prepare after a lost run (real git)', () => {
  const GIT_WORK_MS = 20_000 + BRANCH_FREED_WAIT_MS;
  let repository: string;
  let locks: InMemoryLocks;
  let slots: WorktreeSlots;
  let home: string;
  const slot = (n: number) => join(home, `slot-${n}`);

  beforeEach(async () => {
    repository = realpathSync(makeTempWorkspace({ git: true, files: { 'README.md': 'x\n' } }));
    const worktreesDir = realpathSync(makeTempWorkspace());
    const config = AppConfig.with({ WORKTREES_DIR: worktreesDir, WORKTREE_SLOTS_PER_REPOSITORY: '2' });
    locks = new InMemoryLocks();
    slots = new WorktreeSlots(locks, testGit(), testWorkspaces(undefined, undefined, worktreesDir), config);
    home = await slots.homeOf(repository);
  });

  function session(branch: string): Session {
    const baseCommit = git(repository, 'rev-parse', 'HEAD');
    const worktree = newSessionWorktree({ repository, subdirectory: '', branch, baseRef: null, baseCommit });
    return Session.create({ title: 'Write a', prompt: 'p', workspace: repository, opencodeAgent: 'build', timeoutSeconds: 60, worktree });
  }

  /** A run of `s` in slot-1 whose worker was killed mid-turn (inside git add): its branch, its work and git's lock stay there. */
  async function lostRunIn1(s: Session): Promise<void> {
    await slots.prepare(s, slot(1));
    writeFileSync(join(slot(1), 'a.txt'), 'written by the lost turn\n');
    writeFileSync(join(git(slot(1), 'rev-parse', '--absolute-git-dir'), 'index.lock'), '');
  }

  it('frees its branch from the slot its lost run left it in (lease expired), the work left there committed on the branch', async () => {
    const s = session('orchestrator/unit-lost');
    await lostRunIn1(s);

    await slots.prepare(s, slot(0));
    expect(git(slot(0), 'branch', '--show-current')).toBe('orchestrator/unit-lost');
    expect(readFileSync(join(slot(0), 'a.txt'), 'utf8')).toBe('written by the lost turn\n');
    expect(git(repository, 'log', '-1', '--format=%s', 'orchestrator/unit-lost')).toBe('Work left uncommitted by a lost worker, recovered by the orchestrator');
    expect(git(slot(1), 'branch', '--show-current')).toBe(''); // detached, clean
    expect(git(slot(1), 'status', '--porcelain')).toBe('');
    expect(await locks.list()).toEqual([]);
  }, GIT_WORK_MS);

  it('takes over the lease its own lost run still holds on that slot, and gives it back', async () => {
    const s = session('orchestrator/unit-own');
    await locks.acquire(slotLockResource(slot(1)), { owner: sessionLockOwner(s.id), ttlMs: 60_000, waitTimeoutMs: 0, autoRenew: false });
    await lostRunIn1(s);

    await slots.prepare(s, slot(0));
    expect(git(slot(0), 'branch', '--show-current')).toBe('orchestrator/unit-own');
    expect(readFileSync(join(slot(0), 'a.txt'), 'utf8')).toBe('written by the lost turn\n');
    expect(await locks.list()).toEqual([]);
  }, GIT_WORK_MS);

  it('waits for the session that holds that slot now to free the branch (readying the slot, as every run does)', async () => {
    const s = session('orchestrator/unit-wait');
    await lostRunIn1(s);
    const other = session('orchestrator/unit-other');
    const lease = await locks.acquire(slotLockResource(slot(1)), { owner: sessionLockOwner(other.id), ttlMs: 60_000, waitTimeoutMs: 0, autoRenew: false });

    const preparing = slots.prepare(s, slot(0));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await slots.prepare(other, slot(1));
    await preparing;
    expect(git(slot(0), 'branch', '--show-current')).toBe('orchestrator/unit-wait');
    expect(readFileSync(join(slot(0), 'a.txt'), 'utf8')).toBe('written by the lost turn\n');
    expect(git(slot(1), 'branch', '--show-current')).toBe('orchestrator/unit-other');
    await locks.release(lease);
  }, GIT_WORK_MS);

  it('never touches a slot another session holds, nor a worktree that is no slot', async () => {
    const s = session('orchestrator/unit-held');
    await lostRunIn1(s);
    await locks.acquire(slotLockResource(slot(1)), { owner: 'session:another', ttlMs: 60_000, waitTimeoutMs: 0, autoRenew: false });
    await expect(slots.prepare(s, slot(0))).rejects.toThrow(`git could not check out orchestrator/unit-held in ${slot(0)}: it is checked out in the worktree ${slot(1)}`);
    expect(git(slot(1), 'branch', '--show-current')).toBe('orchestrator/unit-held');
    expect(readFileSync(join(slot(1), 'a.txt'), 'utf8')).toBe('written by the lost turn\n');
    expect(existsSync(join(git(slot(1), 'rev-parse', '--absolute-git-dir'), 'index.lock'))).toBe(true);

    const user = session('orchestrator/unit-user');
    const mine = join(realpathSync(makeTempWorkspace()), 'slot-5');
    git(repository, 'worktree', 'add', '-q', '-b', 'orchestrator/unit-user', mine);
    writeFileSync(join(mine, 'mine.txt'), 'the user’s\n');
    await expect(slots.prepare(user, slot(0))).rejects.toThrow(`checked out in the worktree ${mine}`);
    expect(git(mine, 'status', '--porcelain')).toBe('?? mine.txt');
  }, 2 * GIT_WORK_MS);
});

import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LOCK_PORT, LockError, LockErrorCode, LockPort } from '@app/locking';
import { errorMessage } from '@app/shared';
import { GIT_PORT, GitPort, WORKSPACE_PORT, WorkspacePort } from '@app/workspace';
import { Session } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';
import { SessionWorktree, WorktreeChanges, worktreeCommitMessage } from '../../domain/session-worktree';
import { workspaceLockTtlMs, WorkspaceLockOutcome } from './workspace-lock';

/** The file in a repository's slot directory that names the repository (for the janitor). */
export const REPOSITORY_NOTE = 'repository';
const SLOT_PREFIX = 'slot-';
/** With every slot busy, how long a run queues on one slot before it looks at all of them again. */
const SLOT_RESCAN_MS = 2_000;

/** What a run's work looks like once committed, and whether a resolver left conflict markers. */
export interface SettledWorktree {
  changes: WorktreeChanges;
  /** Files of a resolver session's merge still holding conflict markers. */
  unresolved: string[];
}

/**
 * A small pool of reusable git worktrees ("slots") per repository, each the working directory of
 * one run at a time under its own lock. A slot is switched to the session's branch and cleaned for
 * every run, so the OpenCode server's instance for that directory (about 2.3 s and 50-100 MB to
 * build) is built once per slot, not once per session. Sessions on one repository run at once,
 * up to WORKTREE_SLOTS_PER_REPOSITORY.
 */
@Injectable()
export class WorktreeSlots {
  private readonly logger = new Logger(WorktreeSlots.name);

  constructor(
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    @Inject(GIT_PORT) private readonly git: GitPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    private readonly config: AppConfig,
  ) {}

  /** The directory of a repository's slots: `<WORKTREES_DIR>/<name>-<hash of its path>`. */
  async homeOf(repository: string): Promise<string> {
    const digest = createHash('sha256').update(repository).digest('hex').slice(0, 12);
    const name = basename(repository).replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'repo';
    return join(await this.workspaces.worktreesDirectory(), `${name}-${digest}`);
  }

  /**
   * A free slot of the session's repository: the lowest free one (its OpenCode instance is the
   * warmest), else the first one to come free, for at most the session's timeout (then 'busy').
   * A RUNNING session (resumed after its worker was lost) takes over the slot it had.
   */
  async acquire(session: Session, signal: AbortSignal): Promise<WorkspaceLockOutcome & { slot?: string }> {
    const worktree = this.worktreeOf(session);
    const home = await this.homeOf(worktree.repository);
    const note = join(home, REPOSITORY_NOTE);
    if ((await this.workspaces.readNote(note)) !== worktree.repository) await this.workspaces.writeNote(note, worktree.repository);
    const options = { owner: `session:${session.id}`, ttlMs: workspaceLockTtlMs(this.config.workerLeaseSeconds), signal };
    const slots = this.config.worktrees.slotsPerRepository;
    const timeoutMs = session.snapshot().timeoutSeconds * 1000;
    if (session.status === SessionStatus.RUNNING && worktree.slot) {
      return this.take(worktree.slot, { ...options, waitTimeoutMs: timeoutMs, reclaim: true });
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let n = 0; n < slots; n++) {
        const taken = await this.take(join(home, `${SLOT_PREFIX}${n}`), { ...options, waitTimeoutMs: 0 });
        if (taken.kind === 'held' || taken.kind === 'abandoned') return this.used(taken);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) return { kind: 'busy', resource: `worktree-slot:${home}/*` };
      // Every slot busy: queue on one of them for a moment, then look at all of them again, so the
      // first slot to come free is found within SLOT_RESCAN_MS whichever it is.
      const n = Math.floor(Math.random() * slots);
      const taken = await this.take(join(home, `${SLOT_PREFIX}${n}`), { ...options, waitTimeoutMs: Math.min(SLOT_RESCAN_MS, remaining) });
      if (taken.kind !== 'busy') return this.used(taken);
    }
  }

  /** Notes when a slot was last taken: the janitor removes slots unused for WORKTREE_RETENTION_HOURS. */
  private async used<T extends { kind: string; slot?: string }>(taken: T): Promise<T> {
    if (taken.kind === 'held' && taken.slot) {
      const name = basename(taken.slot);
      await this.workspaces.writeNote(join(taken.slot, '..', slotUseNote(name)), new Date().toISOString());
    }
    return taken;
  }

  /**
   * Readies `slot` for the session's run and returns the directory its turn works in: the slot
   * made when missing, any work a lost worker left uncommitted committed to its own branch, then
   * the slot cleaned and switched to the session's branch (made from its base commit on the first
   * run; a resolver's branch gets `mergeIn` merged in, conflicts left in the files).
   */
  async prepare(session: Session, slot: string): Promise<string> {
    const worktree = this.worktreeOf(session);
    const author = this.config.worktrees.author;
    // A slot directory is trusted to be a registered worktree (a broken one fails resetSlot and is made again below).
    if (!(await this.workspaces.isDirectory(slot))) {
      await this.git.pruneWorktrees(worktree.repository);
      await this.workspaces.removeDirectory(slot);
      await this.workspaces.makeDirectory(join(slot, '..'));
      await this.git.addDetachedWorktree(worktree.repository, slot, worktree.baseCommit);
    }
    try {
      const { recovered } = await this.git.resetSlot(slot, {
        message: 'Work left uncommitted by a lost worker, recovered by the orchestrator\n',
        author,
      });
      if (recovered) this.logger.warn(`Slot ${slot}: committed work a lost run left there (${recovered})`);
    } catch (err) {
      // What git cannot commit (e.g. a nested repository without a commit) would stick the slot for
      // every later run: the slot is made again, that work is lost (it could never be committed).
      this.logger.error(`Slot ${slot} could not be cleaned (${errorMessage(err)}); making it again`);
      await this.workspaces.removeDirectory(slot);
      await this.git.pruneWorktrees(worktree.repository);
      await this.git.addDetachedWorktree(worktree.repository, slot, worktree.baseCommit);
    }
    const { created } = await this.git.switchSlot(slot, worktree.branch, worktree.baseCommit);
    if (created && worktree.mergeIn) {
      const { conflicts } = await this.git.mergeIntoSlot(slot, worktree.mergeIn, `Merge ${worktree.mergeIn} into ${worktree.branch}`);
      this.logger.log(`Session ${session.id}: ${worktree.mergeIn} merged into its worktree with ${conflicts.length} conflicting file(s) to resolve`);
    }
    return this.directoryIn(session, slot);
  }

  /** The directory the turn works in: the workspace's place inside the slot. */
  directoryIn(session: Session, slot: string): string {
    const { subdirectory } = this.worktreeOf(session);
    return subdirectory ? join(slot, subdirectory) : slot;
  }

  /**
   * After the turn: commits what the agent changed on the session's branch, detaches the slot so
   * that the branch can be checked out elsewhere, and counts the branch's changes since its base.
   */
  async settle(session: Session, slot: string): Promise<SettledWorktree> {
    const worktree = this.worktreeOf(session);
    const s = session.snapshot();
    const settled = await this.git.settleSlot(slot, {
      branch: worktree.branch,
      message: worktreeCommitMessage(s.title, s.id, s.attempt),
      author: this.config.worktrees.author,
      base: worktree.baseCommit,
    });
    // The branch may have moved even when this turn changed nothing (leftovers recovered, a resolver's merge).
    const headCommit = settled.head;
    const counted = settled.changes;
    const unresolved = worktree.mergeIn && counted.files.length > 0 ? await this.git.conflictMarkers(slot, counted.files) : [];
    return { changes: { headCommit, ...counted }, unresolved };
  }

  /** Best effort: a lease that cannot be released expires on its own. */
  async release(lease: Lease): Promise<void> {
    await this.locks
      .release(lease)
      .catch((err: Error) => this.logger.warn(`Could not release ${lease.resource} (it expires on its own): ${err.message}`));
  }

  private async take(
    slot: string,
    options: { owner: string; ttlMs: number; signal: AbortSignal; waitTimeoutMs: number; reclaim?: boolean },
  ): Promise<WorkspaceLockOutcome & { slot?: string }> {
    const resource = slotLockResource(slot);
    try {
      return { kind: 'held', lease: await this.locks.acquire(resource, options), slot };
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
      if (err.code === LockErrorCode.LOCK_ABORTED && options.signal.aborted) return { kind: 'abandoned' };
      if (err.code === LockErrorCode.LOCK_TIMEOUT) return { kind: 'busy', resource };
      throw err;
    }
  }

  private worktreeOf(session: Session): SessionWorktree {
    const worktree = session.worktree;
    if (!worktree) throw new Error(`session ${session.id} has no worktree`);
    return worktree;
  }
}

/** The lock a run holds on its slot for its whole run. */
export function slotLockResource(slot: string): string {
  return `worktree-slot:${slot}`;
}

/** The note, beside the slot, of when it was last taken. */
export function slotUseNote(slotName: string): string {
  return `${slotName}.used`;
}

/** Whether a directory name is one of a repository's slots. */
export function isSlotName(name: string): boolean {
  return new RegExp(`^${SLOT_PREFIX}\\d+$`).test(name);
}

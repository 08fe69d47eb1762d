import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LOCK_PORT, LockError, LockPort } from '@app/locking';
import { errorMessage } from '@app/shared';
import { GIT_PORT, GitPort, WORKSPACE_PORT, WorkspaceError, WorkspaceErrorCode, WorkspacePort } from '@app/workspace';
import { Session } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';
import { SessionWorktree, WorktreeChanges, worktreeCommitMessage } from '../../domain/session-worktree';
import { PLACE_CLAIM_MS, PLACE_KEPT_MS, PlaceOutcome, sessionLockOwner, waitedFor, workspaceLockTtlMs } from './workspace-lock';

/** The file in a repository's slot directory that names the repository (for the janitor). */
export const REPOSITORY_NOTE = 'repository';
const SLOT_PREFIX = 'slot-';
const LEFTOVERS_MESSAGE = 'Work left uncommitted by a lost worker, recovered by the orchestrator\n';
/**
 * How long a run waits for the session that took the slot its branch was left in to free the
 * branch (readying a slot detaches it, first thing in a run), and how often it looks.
 */
export const BRANCH_FREED_WAIT_MS = 5_000;
const BRANCH_FREED_POLL_MS = 100;

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
   * A slot of the session's repository, never waiting: the lowest one it can take now (the warmest
   * OpenCode instance), its places in the other slots' queues then given up. With every slot busy,
   * the session keeps a place in the queue of each (so the first slot to come free is handed to the
   * longest-waiting session, whichever slot it is) and the answer is busy. A slot still held by an
   * earlier run of the session is taken over. A RUNNING session (resumed after its worker was lost)
   * takes only the slot its turn works in.
   */
  async take(session: Session): Promise<PlaceOutcome> {
    const worktree = this.worktreeOf(session);
    const home = await this.homeOf(worktree.repository);
    if (session.status === SessionStatus.RUNNING && worktree.slot) {
      const taken = await this.park(session, worktree.slot);
      return taken.kind === 'held' ? taken : { kind: 'busy', resource: slotLockResource(worktree.slot) };
    }
    const note = join(home, REPOSITORY_NOTE);
    if ((await this.workspaces.readNote(note)) !== worktree.repository) await this.workspaces.writeNote(note, worktree.repository);
    const slots = this.slotsOf(home);
    // Places in slots after the one taken exist only when the session waited before.
    const waitedBefore = session.snapshot().waitingSince !== null;
    for (const [n, slot] of slots.entries()) {
      const taken = await this.park(session, slot);
      if (taken.kind !== 'held') continue;
      await Promise.all(slots.filter((_, m) => m < n || (waitedBefore && m > n)).map((other) => this.unpark(session, other)));
      return this.used(taken);
    }
    return { kind: 'busy', resource: `worktree-slot:${home}/*` };
  }

  /** Gives up the session's places in its repository's slots (it timed out, or was cancelled or deleted while it waited). Best effort. */
  async leave(session: Session): Promise<void> {
    const home = await this.homeOf(this.worktreeOf(session).repository).catch(() => null);
    if (home) await Promise.all(this.slotsOf(home).map((slot) => this.unpark(session, slot)));
  }

  /** Notes when a slot was last taken: the janitor removes slots unused for WORKTREE_RETENTION_HOURS. */
  private async used(taken: PlaceOutcome & { kind: 'held'; slot: string }): Promise<PlaceOutcome> {
    await this.workspaces.writeNote(join(taken.slot, '..', slotUseNote(basename(taken.slot))), new Date().toISOString());
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
    await this.ready(slot, worktree);
    const { created } = await this.switchTo(session, slot, worktree);
    if (created && worktree.mergeIn) {
      const { conflicts } = await this.git.mergeIntoSlot(slot, worktree.mergeIn, `Merge ${worktree.mergeIn} into ${worktree.branch}`);
      this.logger.log(`Session ${session.id}: ${worktree.mergeIn} merged into its worktree with ${conflicts.length} conflicting file(s) to resolve`);
    }
    return this.directoryIn(session, slot);
  }

  /** The slot made when missing, what a lost worker left on its branch committed there, then cleaned and detached. */
  private async ready(slot: string, worktree: SessionWorktree): Promise<void> {
    const author = this.config.worktrees.author;
    // A slot directory is trusted to be a registered worktree (a broken one fails resetSlot and is made again below).
    if (!(await this.workspaces.isDirectory(slot))) {
      await this.git.pruneWorktrees(worktree.repository);
      await this.workspaces.removeDirectory(slot);
      await this.workspaces.makeDirectory(join(slot, '..'));
      await this.git.addDetachedWorktree(worktree.repository, slot, worktree.baseCommit);
    }
    try {
      const { recovered } = await this.git.resetSlot(slot, { message: LEFTOVERS_MESSAGE, author });
      if (recovered) this.logger.warn(`Slot ${slot}: committed work a lost run left there (${recovered})`);
    } catch (err) {
      // What git cannot commit (e.g. a nested repository without a commit) would stick the slot for
      // every later run: the slot is made again, that work is lost (it could never be committed).
      this.logger.error(`Slot ${slot} could not be cleaned (${errorMessage(err)}); making it again`);
      await this.workspaces.removeDirectory(slot);
      await this.git.pruneWorktrees(worktree.repository);
      await this.git.addDetachedWorktree(worktree.repository, slot, worktree.baseCommit);
    }
  }

  /** Switches the readied slot to the session's branch; a branch a lost run left in another slot is freed first (freeBranch). */
  private async switchTo(session: Session, slot: string, worktree: SessionWorktree): Promise<{ created: boolean }> {
    try {
      return await this.git.switchSlot(slot, worktree.branch, worktree.baseCommit);
    } catch (err) {
      const holder = checkedOutIn(err);
      if (holder === null || !(await this.freeBranch(session, slot, holder, worktree))) throw err;
      return this.git.switchSlot(slot, worktree.branch, worktree.baseCommit);
    }
  }

  /**
   * A lost run of the session (its worker killed, or its lease lost when Redis restarted) leaves
   * the branch checked out in its slot, and a later run that took another slot cannot check it
   * out. That slot is readied as `ready` readies one (the work left there committed on the branch,
   * then detached) under its own lock, taken only when it is free or still held by an earlier run
   * of this session. A slot another session holds is left alone: its run readies it first thing,
   * which frees the branch, so this run waits a little for that. A worktree that is no slot of the
   * repository's (the user's own) is never touched. Whether the branch is free now.
   */
  private async freeBranch(session: Session, slot: string, holder: string, worktree: SessionWorktree): Promise<boolean> {
    if (dirname(holder) !== dirname(slot) || !isSlotName(basename(holder)) || !(await this.workspaces.isDirectory(holder))) return false;
    const lease = await this.tryTake(session, holder);
    if (!lease) {
      const deadline = Date.now() + BRANCH_FREED_WAIT_MS;
      while (Date.now() < deadline) {
        await pause(BRANCH_FREED_POLL_MS);
        if (!(await this.git.listWorktrees(worktree.repository)).some((w) => w.path === holder && w.branch === worktree.branch)) return true;
      }
      return false;
    }
    try {
      this.logger.warn(`Session ${session.id}: a lost run left ${worktree.branch} checked out in ${holder}; readying that slot to free it`);
      await this.ready(holder, worktree);
      return true;
    } finally {
      await this.release(lease);
    }
  }

  /** The slot's lock now, when it is free or held by an earlier run of the session (taken over); else null. */
  private async tryTake(session: Session, slot: string): Promise<Lease | null> {
    try {
      return await this.locks.acquire(slotLockResource(slot), {
        owner: sessionLockOwner(session.id),
        ttlMs: workspaceLockTtlMs(this.config.workerLeaseSeconds),
        waitTimeoutMs: 0,
        reclaim: true,
      });
    } catch (err) {
      if (err instanceof LockError) return null; // another session's, or Redis cannot tell: not touched
      throw err;
    }
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

  private async park(session: Session, slot: string): Promise<PlaceOutcome & { slot: string }> {
    const resource = slotLockResource(slot);
    const parked = await this.locks.park(resource, {
      owner: sessionLockOwner(session.id),
      ttlMs: workspaceLockTtlMs(this.config.workerLeaseSeconds),
      placeMs: PLACE_KEPT_MS,
      claimMs: PLACE_CLAIM_MS,
      waitedMs: waitedFor(session),
    });
    return parked.kind === 'held' ? { kind: 'held', lease: parked.lease, slot } : { kind: 'busy', resource, slot };
  }

  private async unpark(session: Session, slot: string): Promise<void> {
    await this.locks.unpark(slotLockResource(slot), sessionLockOwner(session.id)).catch(() => undefined);
  }

  private slotsOf(home: string): string[] {
    return Array.from({ length: this.config.worktrees.slotsPerRepository }, (_, n) => join(home, `${SLOT_PREFIX}${n}`));
  }

  private worktreeOf(session: Session): SessionWorktree {
    const worktree = session.worktree;
    if (!worktree) throw new Error(`session ${session.id} has no worktree`);
    return worktree;
  }
}

/** The worktree switchSlot found the branch checked out in, or null for any other failure. */
function checkedOutIn(err: unknown): string | null {
  const worktree = err instanceof WorkspaceError && err.code === WorkspaceErrorCode.GIT_FAILED ? err.details?.worktree : undefined;
  return typeof worktree === 'string' ? worktree : null;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

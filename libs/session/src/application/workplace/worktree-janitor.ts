import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LOCK_PORT, LockError, LockPort } from '@app/locking';
import { errorMessage } from '@app/shared';
import { GIT_PORT, GitPort, mergeQueueResource, WORKSPACE_PORT, WorkspacePort } from '@app/workspace';
import { CODING_TURNS, CodingTurnsPort } from '../ports/coding-turns.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from '../ports/session.repository.port';
import { isVersionConflict } from '../retry-on-conflict';
import { WorktreeDiskUsage } from './worktree-disk-usage';
import { isSlotName, REPOSITORY_NOTE, slotLockResource, slotUseNote, WorktreeSlots } from './worktree-slots';

/** Branches the orchestrator makes for sessions (plan integration branches, `orchestrator/plan-*`, belong to plans). */
const SESSION_BRANCH_PREFIX = 'orchestrator/';
const PLAN_BRANCH_PREFIX = 'orchestrator/plan-';
/** Expired branches handled per sweep (the next sweep takes the rest). */
const EXPIRE_BATCH = 100;

export interface JanitorReport {
  expired: string[];
  deletedBranches: string[];
  removedSlots: string[];
  bytes: number;
}

/**
 * Keeps WORKTREES_DIR and the repositories' branches tidy: a merge or a commit that a crash
 * interrupted is finished or undone, worktrees whose directory is gone are pruned, branches no
 * session holds any more (deleted sessions, merged or discarded ones whose branch survived a
 * crash) are deleted, branches of finished sessions nobody merged or discarded expire after
 * WORKTREE_RETENTION_HOURS, and slots unused that long are removed with their OpenCode instance.
 */
@Injectable()
export class WorktreeJanitor {
  private readonly logger = new Logger(WorktreeJanitor.name);

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(GIT_PORT) private readonly git: GitPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    @Inject(CODING_TURNS) private readonly turns: CodingTurnsPort,
    private readonly slots: WorktreeSlots,
    private readonly disk: WorktreeDiskUsage,
    private readonly config: AppConfig,
  ) {}

  async sweep(now = new Date()): Promise<JanitorReport> {
    const report: JanitorReport = { expired: [], deletedBranches: [], removedSlots: [], bytes: 0 };
    const retentionMs = this.config.worktrees.retentionHours * 3600_000;
    await this.expire(new Date(now.getTime() - retentionMs), report);
    for (const repository of await this.repositories()) {
      await this.tidy(repository, new Date(now.getTime() - retentionMs), report).catch((err) =>
        this.logger.warn(`Worktrees of ${repository}: ${errorMessage(err)}`),
      );
    }
    report.bytes = (await this.disk.measure()).bytes;
    return report;
  }

  /** Branches of sessions that finished before `before` and were neither merged nor discarded. */
  private async expire(before: Date, report: JanitorReport): Promise<void> {
    for (const session of await this.sessions.findWorktreesToExpire(before, EXPIRE_BATCH)) {
      try {
        session.dropWorktree('EXPIRED');
        await this.sessions.update(session);
      } catch (err) {
        if (isVersionConflict(err)) continue; // changed meanwhile (retried, merged): the next sweep decides again
        throw err;
      }
      const { repository, branch } = session.worktree!;
      await this.git.deleteBranch(repository, branch).catch((err) => this.logger.warn(`Could not delete ${branch}: ${errorMessage(err)}`));
      report.expired.push(session.id);
    }
  }

  /** Every repository with slots under WORKTREES_DIR or with a session branch still held. */
  private async repositories(): Promise<string[]> {
    const root = await this.workspaces.worktreesDirectory();
    const noted: string[] = [];
    for (const home of await this.workspaces.listDirectories(root)) {
      const repository = (await this.workspaces.readNote(join(root, home, REPOSITORY_NOTE)))?.trim();
      if (repository) noted.push(repository);
    }
    return [...new Set([...noted, ...(await this.sessions.worktreeRepositories())])];
  }

  private async tidy(repository: string, idleBefore: Date, report: JanitorReport): Promise<void> {
    const home = await this.slots.homeOf(repository);
    const exists = await this.workspaces.isDirectory(repository);
    if (!exists || (await this.git.workTreeRoot(repository)) !== repository) {
      // The repository is gone (or is no longer a work tree's top): its slots are of no use.
      await this.workspaces.removeDirectory(home);
      return;
    }
    await this.recoverMerge(repository);
    await this.git.pruneWorktrees(repository);
    const worktrees = await this.git.listWorktrees(repository);
    const registered = new Set(worktrees.map((w) => w.path));
    for (const name of await this.workspaces.listDirectories(home)) {
      if (!isSlotName(name)) continue;
      const slot = join(home, name);
      // A slot git no longer knows (half made, or its registration pruned) is of no use; an idle one costs disk and an OpenCode instance.
      const useless = !registered.has(slot) || (await this.idleSince(home, name, idleBefore));
      if (useless && (await this.removeSlot(repository, slot))) report.removedSlots.push(slot);
    }
    // Slots are detached: removing them changed no checked-out branch.
    await this.deleteOrphanBranches(repository, new Set(worktrees.map((w) => w.branch)), report);
  }

  private async idleSince(home: string, slotName: string, before: Date): Promise<boolean> {
    const used = await this.workspaces.readNote(join(home, slotUseNote(slotName)));
    const at = used ? Date.parse(used.trim()) : NaN;
    return Number.isNaN(at) || at < before.getTime();
  }

  /**
   * A merge a crash interrupted (its journal is left in the repository) is finished or undone, in
   * the merge queue like any merge: never beside a merge in progress. Skipped while the queue is busy.
   */
  private async recoverMerge(repository: string): Promise<void> {
    const lease = await this.tryLock(mergeQueueResource(repository));
    if (!lease) return;
    try {
      const recovered = await this.git.recoverMerge(repository);
      if (recovered !== 'none') this.logger.warn(`${repository}: an interrupted merge was ${recovered}`);
    } finally {
      await this.locks.release(lease).catch(() => undefined);
    }
  }

  /** Only a slot no run holds (or is making): taken for a moment with its own lock, then removed with its OpenCode instance. */
  private async removeSlot(repository: string, slot: string): Promise<boolean> {
    const lease = await this.tryLock(slotLockResource(slot));
    if (!lease) return false;
    try {
      await this.workspaces.removeDirectory(slot);
      await this.git.pruneWorktrees(repository);
      await this.turns.releaseDirectory(slot).catch((err) => this.logger.debug(`OpenCode kept its instance of ${slot}: ${errorMessage(err)}`));
      this.logger.log(`Removed the idle worktree slot ${slot}`);
      return true;
    } finally {
      await this.locks.release(lease).catch(() => undefined);
    }
  }

  private async tryLock(resource: string): Promise<Lease | null> {
    try {
      return await this.locks.acquire(resource, { owner: `janitor:${this.workspaces.hostId}:${randomUUID()}`, ttlMs: 60_000, waitTimeoutMs: 0 });
    } catch (err) {
      if (err instanceof LockError) return null; // in use
      throw err;
    }
  }

  /** `orchestrator/*` branches no session holds, and that no worktree has checked out. */
  private async deleteOrphanBranches(repository: string, checkedOut: ReadonlySet<string | null>, report: JanitorReport): Promise<void> {
    const held = new Set(await this.sessions.activeBranches(repository));
    for (const branch of await this.git.listBranches(repository, SESSION_BRANCH_PREFIX)) {
      if (branch.startsWith(PLAN_BRANCH_PREFIX) || held.has(branch) || checkedOut.has(branch)) continue;
      await this.git.deleteBranch(repository, branch);
      report.deletedBranches.push(`${repository}:${branch}`);
    }
  }
}

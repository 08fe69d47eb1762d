import { randomUUID } from 'node:crypto';
import { relative } from 'node:path';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { LOCK_PORT, LockPort } from '@app/locking';
import { errorMessage, isInside } from '@app/shared';
import {
  assertSafeRef,
  GIT_PORT,
  GitFileDiff,
  GitPort,
  mergeQueueResource,
  sessionBranchName,
  WORKSPACE_PORT,
  WorkspaceError,
  WorkspaceErrorCode,
  WorkspacePort,
  workspaceLockResource,
} from '@app/workspace';
import { Session } from '../domain/session';
import { SessionError, SessionErrorCode } from '../domain/session.errors';
import { MergeStrategy, newSessionWorktree, SessionIsolation, SessionMerge, SessionWorktree } from '../domain/session-worktree';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';
import { WORKTREE_METRICS, WorktreeMetricsPort } from './ports/worktree-metrics.port';
import { retryOnConflict } from './retry-on-conflict';

/** A merge waits this long for the repository's merge queue (and the session) before 409 LOCK_TIMEOUT. */
const MERGE_WAIT_MS = 60_000;
const MERGE_LOCK_TTL_MS = 60_000;
const MAX_CONFLICT_RETRIES = 8;

export interface MergeSessionCommand {
  /** A branch; default: the branch checked out at the repository's top. */
  target?: string;
  strategy?: MergeStrategy;
}

export interface SessionMergeResult {
  status: 'merged' | 'up-to-date';
  target: string;
  strategy: MergeStrategy;
  /** The target's commit after the merge. */
  commit: string;
  session: Session;
}

/**
 * A session's branch as its users see it: chosen when the session is made, its diff, merged into
 * a branch of the repository (one merge per repository at a time, through the merge queue's fair
 * lock), or discarded.
 */
@Injectable()
export class SessionWorktreeService {
  private readonly logger = new Logger(SessionWorktreeService.name);

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(GIT_PORT) private readonly git: GitPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    private readonly config: AppConfig,
    @Optional() @Inject(WORKTREE_METRICS) private readonly metrics: WorktreeMetricsPort | null = null,
  ) {}

  /**
   * The worktree a new session gets, or null when it shares its workspace: "worktree" is the
   * default for a workspace inside a git work tree that has a commit; asked for explicitly, a
   * workspace without git (or without a commit) is refused.
   */
  async plan(
    sessionId: string,
    title: string,
    workspace: string,
    options: { isolation?: SessionIsolation; baseRef?: string; mergeIn?: string },
  ): Promise<SessionWorktree | null> {
    const invalid = (message: string, field: string) => new SessionError(SessionErrorCode.ISOLATION_INVALID, message, { field });
    if (options.isolation === 'shared') {
      if (options.baseRef || options.mergeIn) throw invalid('baseRef and mergeIn need isolation "worktree"', options.baseRef ? 'baseRef' : 'mergeIn');
      return null;
    }
    const repository = await this.git.workTreeRoot(workspace);
    const explicit = options.isolation === 'worktree' || options.baseRef !== undefined || options.mergeIn !== undefined;
    if (!repository) {
      if (!explicit) return null;
      throw new SessionError(SessionErrorCode.WORKSPACE_NOT_GIT, `workspace ${workspace} is not inside a git work tree: it can only be shared (isolation "shared")`, {
        field: 'isolation',
        workspace,
      });
    }
    const worktreesDir = await this.workspaces.worktreesDirectory();
    if (isInside(worktreesDir, repository)) {
      throw invalid(`WORKTREES_DIR (${worktreesDir}) is inside the repository ${repository}: set WORKTREES_DIR outside it, or use isolation "shared"`, 'isolation');
    }
    const baseRef = options.baseRef === undefined ? null : assertSafeRef(options.baseRef, 'baseRef');
    const baseCommit = await this.commitOrNull(repository, baseRef ?? 'HEAD');
    if (!baseCommit) {
      // HEAD names no commit only in a repository without one (asked only then: one git process less per session).
      if (baseRef === null || !(await this.git.hasCommit(repository))) {
        if (!explicit) return null; // a repository without a commit yet: nothing to branch from
        throw invalid(`the repository ${repository} has no commit yet to branch from`, baseRef ? 'baseRef' : 'isolation');
      }
      throw invalid(`baseRef "${baseRef}" names no commit in ${repository}`, 'baseRef');
    }
    if (options.mergeIn !== undefined && !(await this.git.branchExists(repository, assertSafeRef(options.mergeIn, 'mergeIn')))) {
      throw invalid(`mergeIn "${options.mergeIn}" is not a branch of ${repository}`, 'mergeIn');
    }
    return newSessionWorktree({
      repository,
      subdirectory: relative(repository, workspace),
      branch: sessionBranchName(sessionId, title),
      baseRef,
      baseCommit,
      mergeIn: options.mergeIn ?? null,
    });
  }

  /** The unified diff of everything the session's branch changed since its base commit. */
  async diff(id: string): Promise<string> {
    const worktree = await this.worktreeOf(id);
    return this.git.diff(worktree.repository, worktree.baseCommit, worktree.headCommit);
  }

  /** The same diff, per file with its status and hunks. */
  async diffFiles(id: string): Promise<GitFileDiff[]> {
    const worktree = await this.worktreeOf(id);
    return this.git.diffFiles(worktree.repository, worktree.baseCommit, worktree.headCommit);
  }

  /**
   * Merges the session's branch into `target` and deletes the branch. Waits its turn in the
   * repository's merge queue, which also keeps sessions sharing the repository's top directory
   * out while it moves. A conflict or a dirty target changes nothing (409 MERGE_CONFLICT,
   * WORKSPACE_DIRTY).
   */
  async merge(id: string, command: MergeSessionCommand): Promise<SessionMergeResult> {
    const strategy = command.strategy ?? 'merge';
    const { repository } = await this.worktreeOf(id);
    const leases = await this.locks.acquireAll([`session:${id}`, mergeQueueResource(repository), workspaceLockResource(repository)], {
      owner: `merge:${this.workspaces.hostId}:${randomUUID()}`,
      ttlMs: MERGE_LOCK_TTL_MS,
      waitTimeoutMs: MERGE_WAIT_MS,
    });
    try {
      const session = await this.get(id);
      session.assertMergeable();
      const worktree = session.worktree!;
      const target = await this.targetBranch(worktree, command.target);
      const s = session.snapshot();
      const outcome = await this.git.merge(worktree.repository, {
        source: worktree.headCommit,
        target,
        strategy,
        message: `Merge session ${s.id}: ${s.title.replace(/\s+/g, ' ').slice(0, 72)}\n\nBranch ${worktree.branch}\n`,
        author: this.config.worktrees.author,
      });
      this.metrics?.merged(outcome.kind === 'up-to-date' ? 'up_to_date' : outcome.kind);
      if (outcome.kind === 'conflict') {
        throw new SessionError(SessionErrorCode.MERGE_CONFLICT, `merging ${worktree.branch} into ${target} conflicts in ${outcome.files.join(', ')}; nothing was changed`, {
          files: outcome.files,
          target,
          branch: worktree.branch,
        });
      }
      if (outcome.kind === 'dirty') {
        throw new SessionError(SessionErrorCode.WORKSPACE_DIRTY, `${target} is checked out in ${outcome.worktree}, which has uncommitted changes (${outcome.files.slice(0, 20).join(', ')}); commit or stash them first`, {
          files: outcome.files,
          worktree: outcome.worktree,
          target,
        });
      }
      const merged = await this.markMerged(id, { target, strategy, commit: outcome.commit });
      return { status: outcome.kind === 'merged' ? 'merged' : 'up-to-date', target, strategy, commit: outcome.commit, session: merged };
    } finally {
      for (const lease of leases) await this.locks.release(lease).catch((err: Error) => this.logger.warn(`Could not release ${lease.resource}: ${err.message}`));
    }
  }

  /**
   * Records that the session's branch was merged as `merge.commit` and deletes the branch. Used
   * by merges of this context and by a plan that merged a task's branch into its own branch.
   * No-op for a branch already merged.
   */
  async markMerged(id: string, merge: Omit<SessionMerge, 'at'>): Promise<Session> {
    const session = await this.change(id, (s) => {
      if (s.worktree?.state === 'MERGED') return false;
      s.recordMerged({ ...merge, at: new Date() });
      return true;
    });
    await this.deleteBranch(session);
    return session;
  }

  /** Deletes the session's branch without merging it (the session stays, with state DISCARDED). */
  async discard(id: string): Promise<Session> {
    const session = await this.change(id, (s) => {
      s.dropWorktree('DISCARDED');
      return true;
    });
    await this.deleteBranch(session);
    return session;
  }

  /** A deleted branch is cleaned up by the janitor when this fails (it deletes branches no session holds). */
  private async deleteBranch(session: Session): Promise<void> {
    const worktree = session.worktree;
    if (!worktree) return;
    await this.git
      .deleteBranch(worktree.repository, worktree.branch)
      .catch((err) => this.logger.warn(`Could not delete ${worktree.branch} in ${worktree.repository} (the janitor will): ${errorMessage(err)}`));
  }

  private change(id: string, apply: (s: Session) => boolean): Promise<Session> {
    return retryOnConflict(
      MAX_CONFLICT_RETRIES,
      async () => {
        const session = await this.get(id);
        if (apply(session)) await this.sessions.update(session);
        return session;
      },
      () => new Error(`session ${id}: too many concurrent changes while recording its branch`),
    );
  }

  /** The target: a branch of the repository other than the session's; default the one checked out at its top. */
  private async targetBranch(worktree: SessionWorktree, asked: string | undefined): Promise<string> {
    const invalid = (message: string) => new SessionError(SessionErrorCode.MERGE_TARGET_INVALID, message, { field: 'target', target: asked ?? null });
    if (asked === undefined) {
      const checkedOut = await this.git.checkedOutBranch(worktree.repository);
      if (!checkedOut) throw invalid(`${worktree.repository} has no branch checked out (detached HEAD): give a target branch`);
      return checkedOut;
    }
    assertSafeRef(asked, 'target');
    if (asked === worktree.branch) throw invalid(`target ${asked} is the session's own branch`);
    if (!(await this.git.branchExists(worktree.repository, asked))) throw invalid(`target ${asked} is not a branch of ${worktree.repository}`);
    return asked;
  }

  private async commitOrNull(repository: string, ref: string): Promise<string | null> {
    try {
      return await this.git.commitOf(repository, ref);
    } catch (err) {
      if (err instanceof WorkspaceError && err.code === WorkspaceErrorCode.GIT_FAILED) return null;
      throw err;
    }
  }

  private async worktreeOf(id: string): Promise<SessionWorktree> {
    const session = await this.get(id);
    const worktree = session.worktree;
    if (!worktree) throw new SessionError(SessionErrorCode.NO_WORKTREE, `Session ${id} shares its workspace (isolation "shared"): it has no branch`, { id });
    return worktree;
  }

  private async get(id: string): Promise<Session> {
    const session = await this.sessions.findById(id);
    if (!session) throw SessionError.notFound(id);
    return session;
  }
}

import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { LOCK_PORT, LockError, LockErrorCode, LockPort } from '@app/locking';
import {
  assertSafeRef,
  GIT_PORT,
  GitMergeSeriesOutcome,
  GitMergeStrategy,
  GitPort,
  mergeQueueResource,
  workspaceLockResource,
  planBranchName,
  WORKSPACE_PORT,
  WorkspaceError,
  WorkspaceErrorCode,
  WorkspacePort,
} from '@app/workspace';
import { Plan } from '../domain/plan';
import { PlanBranch, PlanBranchChanges, planMergeMessage } from '../domain/plan-branch';
import { PlanError } from '../domain/plan.errors';
import { DEFAULT_PLAN_MERGE_SETTINGS, PLAN_MERGE_SETTINGS, PlanMergeSettings } from './plan-merge-settings';

/** What plans use of git. */
export type PlanGitPort = Pick<GitPort, 'workTreeRoot' | 'commitOf' | 'changes' | 'createBranch' | 'branchExists' | 'merge' | 'mergeSeries' | 'checkedOutBranch'>;
export type PlanMergeStrategy = GitMergeStrategy;

export interface PlanMergeRequest {
  /** Default: the branch checked out at the repository's top. */
  target?: string;
  strategy?: PlanMergeStrategy;
}

export interface PlanMergeResult {
  commit: string;
  target: string;
  strategy: PlanMergeStrategy;
  status: 'merged' | 'up-to-date';
}

/** POST /plans/:id/merge waits this long for its turn (then 409 LOCK_TIMEOUT). */
const COMMAND_QUEUE_WAIT_MS = 60_000;
/** A merge holds its repository's queue this long at most unless renewed (it is, while git works). */
const QUEUE_LOCK_TTL_MS = 60_000;

/**
 * A plan's integration branch in git: made when the plan is run, what it changed, and merges into
 * and out of it. Every merge on a repository, a task's or a plan's, a session's too, takes its
 * turn in that repository's merge queue (the fair lock `mergeQueueResource(repository)`): one
 * at a time, first come, first merged.
 */
@Injectable()
export class IntegrationBranches {
  private readonly logger = new Logger(IntegrationBranches.name);

  constructor(
    @Inject(GIT_PORT) private readonly git: PlanGitPort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    @Optional() @Inject(PLAN_MERGE_SETTINGS) private readonly settings: PlanMergeSettings = DEFAULT_PLAN_MERGE_SETTINGS,
  ) {}

  /**
   * The plan's integration branch, made from the workspace's HEAD; null when the workspace is in
   * no git work tree, or in one without a commit yet (its tasks share the workspace, as before).
   * A branch left by an earlier run that stopped before it was recorded is taken as it is.
   */
  async open(planId: string, workspace: string): Promise<PlanBranch | null> {
    const repository = await this.git.workTreeRoot(workspace);
    if (!repository) return null;
    const name = planBranchName(planId);
    if (await this.git.branchExists(repository, name)) return { name, repository, baseCommit: await this.git.commitOf(repository, name) };
    const baseCommit = await this.headCommit(repository);
    if (!baseCommit) return null;
    await this.git.createBranch(repository, name, baseCommit);
    return { name, repository, baseCommit };
  }

  /** Its head and what changed since its base; null when the branch is gone (deleted by hand). */
  async changesOf(branch: PlanBranch): Promise<PlanBranchChanges | null> {
    try {
      const headCommit = await this.git.commitOf(branch.repository, branch.name);
      return { headCommit, ...(await this.git.changes(branch.repository, branch.baseCommit, headCommit)) };
    } catch (err) {
      if (err instanceof WorkspaceError && err.code === WorkspaceErrorCode.GIT_FAILED) return null;
      throw err;
    }
  }

  /**
   * Merges `items` (the head commits of tasks' or resolvers' branches, in queue order) into the
   * integration branch in one turn of the queue, the branch moved once; `busy` when the turn did not
   * come within a tick's wait (the tasks stay in the queue).
   */
  async mergeTasks(branch: PlanBranch, items: ReadonlyArray<{ source: string; message: string }>): Promise<GitMergeSeriesOutcome | { kind: 'busy' }> {
    try {
      return await this.inQueue(branch.repository, 'plan-scheduler-merge', this.settings.tickQueueWaitMs, () =>
        this.git.mergeSeries(branch.repository, { target: branch.name, items, author: this.settings.author }),
      );
    } catch (err) {
      if (err instanceof LockError && err.code === LockErrorCode.LOCK_TIMEOUT) return { kind: 'busy' };
      throw err;
    }
  }

  /**
   * A finished plan's integration branch into `target` (default: the branch checked out at the
   * repository's top); on a conflict or a dirty target work tree nothing is changed.
   */
  async mergePlan(plan: Plan, branch: PlanBranch, request: PlanMergeRequest): Promise<PlanMergeResult> {
    const target = await this.targetOf(branch, request.target);
    const strategy = request.strategy ?? 'merge';
    const message = planMergeMessage({ id: plan.id, requirement: plan.requirement }, branch.name);
    const outcome = await this.inQueue(
      branch.repository,
      'plan-merge',
      COMMAND_QUEUE_WAIT_MS,
      () => this.git.merge(branch.repository, { source: branch.name, target, strategy, message, author: this.settings.author }),
      true,
    );
    switch (outcome.kind) {
      case 'merged':
        return { commit: outcome.commit, target, strategy, status: 'merged' };
      case 'up-to-date':
        return { commit: outcome.commit, target, strategy, status: 'up-to-date' };
      case 'conflict':
        throw PlanError.mergeConflict(plan.id, branch.name, target, outcome.files);
      case 'dirty':
        throw PlanError.workspaceDirty(target, outcome.worktree, outcome.files);
    }
  }

  /** `work` in the repository's merge queue, as an owner of its own (one per operation). */
  private async inQueue<T>(repository: string, who: string, waitMs: number, work: () => Promise<T>, touchesWorkTree = false): Promise<T> {
    const owner = `${who}:${this.workspaces.hostId}:${randomUUID()}`;
    // A merge that may move the branch checked out at the repository's top also keeps shared sessions out of it.
    const resources = touchesWorkTree ? [mergeQueueResource(repository), workspaceLockResource(repository)] : [mergeQueueResource(repository)];
    const leases = await this.locks.acquireAll(resources, { owner, ttlMs: QUEUE_LOCK_TTL_MS, waitTimeoutMs: waitMs });
    try {
      return await work();
    } finally {
      for (const lease of leases) {
        await this.locks.release(lease).catch((err: Error) => this.logger.warn(`Could not release ${lease.resource}: ${err.message}`));
      }
    }
  }

  /** The target: another branch of the repository; default the one checked out at its top (not a detached HEAD). */
  private async targetOf(branch: PlanBranch, asked: string | undefined): Promise<string> {
    if (asked === undefined) {
      const checkedOut = await this.git.checkedOutBranch(branch.repository);
      if (!checkedOut) throw PlanError.mergeTargetInvalid(`${branch.repository} has no branch checked out (detached HEAD): give a target branch`, null);
      return checkedOut;
    }
    assertSafeRef(asked, 'target');
    if (asked === branch.name) throw PlanError.mergeTargetInvalid(`target ${asked} is the plan's own branch`, asked);
    if (!(await this.git.branchExists(branch.repository, asked))) throw PlanError.mergeTargetInvalid(`target ${asked} is not a branch of ${branch.repository}`, asked);
    return asked;
  }

  /** The workspace's HEAD, or null when the repository has no commit yet (nothing to branch from). */
  private async headCommit(repository: string): Promise<string | null> {
    try {
      return await this.git.commitOf(repository, 'HEAD');
    } catch (err) {
      if (!(err instanceof WorkspaceError) || err.code !== WorkspaceErrorCode.GIT_FAILED) throw err;
      this.logger.warn(`${repository} has no commit to branch a plan from (${err.message}): its tasks share the workspace`);
      return null;
    }
  }
}

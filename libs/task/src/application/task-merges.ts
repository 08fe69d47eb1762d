import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { GitMergeSeriesOutcome, WorkspaceError } from '@app/workspace';
import { DomainError, RunFailure } from '@app/shared';
import { Plan, PlanTask } from '../domain/plan';
import { PlanBranch, taskMergeMessage } from '../domain/plan-branch';
import { SLOT_TASK_STATUSES, TaskStatus } from '../domain/plan-status';
import { IntegrationBranches } from './integration-branches';
import { DEFAULT_PLAN_MERGE_SETTINGS, PLAN_MERGE_SETTINGS, PlanMergeSettings } from './plan-merge-settings';
import { PLAN_REPOSITORY, PlanRepositoryPort } from './ports/plan.repository.port';
import { TASK_SESSIONS, TaskSessionsPort } from './ports/task-sessions.port';
import { resolverPrompt } from './task-prompts';
import { attachAndStart } from './task-session-start';

/**
 * The scheduler's merge step for a plan with an integration branch: its MERGING tasks, first
 * queued first merged, each in its repository's merge queue. A merged task is COMPLETED (and its
 * sessions' branches recorded as merged); a conflict gets a resolver session (a DEBUGGER whose
 * worktree holds the integration branch with the task's branch merged in, conflicts left in the
 * files), up to `resolverTries` of them, and then the task is CONFLICTED.
 */
@Injectable()
export class TaskMerges {
  private readonly logger = new Logger(TaskMerges.name);

  constructor(
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepositoryPort,
    @Inject(TASK_SESSIONS) private readonly sessions: TaskSessionsPort,
    private readonly branches: IntegrationBranches,
    @Optional() @Inject(PLAN_MERGE_SETTINGS) private readonly settings: PlanMergeSettings = DEFAULT_PLAN_MERGE_SETTINGS,
  ) {}

  private now(): Date {
    return new Date();
  }

  /**
   * Merges the plan's MERGING tasks in queue order, all in one turn of the repository's queue (the
   * branch moved once). When the turn does not come within the wait, or the target work tree is
   * dirty, they all wait for the next tick, in order. `maxParallelTasks` bounds resolver sessions
   * with the plan's other running sessions.
   */
  async mergeQueued(plan: Plan, tasks: readonly PlanTask[], maxParallelTasks: number): Promise<void> {
    const branch = plan.branch;
    if (!branch) return;
    const queued = tasks
      .filter((t) => t.status === TaskStatus.MERGING)
      .sort((a, b) => a.merge!.queuedAt.getTime() - b.merge!.queuedAt.getTime() || a.key.localeCompare(b.key));
    const series: QueuedMerge[] = [];
    for (const task of queued) {
      const sourceId = task.merge!.source;
      const source = await this.sessions.get(sourceId);
      if (source?.changes) {
        // Its head commit rather than its branch: after a crash between the merge and its record, the
        // branch may be deleted already (markMerged), while the commit merges again as up-to-date.
        series.push({ task, sourceId, branchName: source.changes.branch, item: { source: source.changes.headCommit, message: taskMergeMessage(task.spec, sourceId) } });
      } else {
        await this.end(task, TaskStatus.FAILED, { code: 'SESSION_MISSING', message: `the session ${sourceId} whose branch was to be merged no longer exists or has no branch` });
      }
    }
    if (series.length > 0) await this.mergeSeries(plan, branch, series, tasks, maxParallelTasks);
  }

  /** `series` merged in one turn of the queue; false when the queue cannot go on this tick. */
  private async mergeSeries(plan: Plan, branch: PlanBranch, series: QueuedMerge[], tasks: readonly PlanTask[], maxParallelTasks: number): Promise<boolean> {
    let outcome;
    try {
      outcome = await this.branches.mergeTasks(branch, series.map((s) => s.item));
    } catch (err) {
      if (!(err instanceof WorkspaceError)) throw err;
      if (series.length > 1) {
        // One task's branch spoils the series: merged one at a time, the error lands on that task alone.
        for (const one of series) if (!(await this.mergeSeries(plan, branch, [one], tasks, maxParallelTasks))) return false;
        return true;
      }
      await this.end(series[0].task, TaskStatus.FAILED, { code: err.code, message: `its branch ${series[0].branchName} could not be merged into ${branch.name}: ${err.message}` });
      return true;
    }
    return this.apply(plan, branch, series, outcome, tasks, maxParallelTasks);
  }

  /** Records what a turn of the queue did, task by task in queue order; false when the queue cannot go on this tick. */
  private async apply(
    plan: Plan,
    branch: PlanBranch,
    series: QueuedMerge[],
    outcome: GitMergeSeriesOutcome | { kind: 'busy' },
    tasks: readonly PlanTask[],
    maxParallelTasks: number,
  ): Promise<boolean> {
    if (outcome.kind === 'busy') {
      this.logger.debug(`Plan ${plan.id}: the merge queue of ${branch.repository} is busy; next tick`);
      return false;
    }
    if (outcome.kind === 'dirty') {
      const first = series[0].task;
      first.mergeWaits({ code: 'WORKSPACE_DIRTY', message: `${branch.name} is checked out at ${outcome.worktree} with uncommitted changes (${outcome.files.join(', ')}); the merge waits` });
      await this.plans.updateTask(first);
      return false;
    }
    for (const [i, { task, sourceId }] of series.entries()) {
      const done = outcome.outcomes[i];
      if (done.kind === 'conflict') {
        const free = maxParallelTasks - tasks.filter((t) => SLOT_TASK_STATUSES.includes(t.status)).length;
        await this.conflict(plan, branch, task, done.files, tasks, free > 0);
      } else {
        await this.merged(branch, task, sourceId, done.commit);
      }
    }
    return true;
  }

  /** Its sessions' branches are recorded as merged (the session side removes them), then the task is COMPLETED. */
  private async merged(branch: PlanBranch, task: PlanTask, sourceId: string, commit: string): Promise<void> {
    const merge = { target: branch.name, commit };
    await this.sessions.markMerged(sourceId, merge);
    // A resolver's branch holds the task's own: merged with it.
    const work = task.workSessionId;
    if (work && work !== sourceId) await this.sessions.markMerged(work, merge);
    task.merged(commit, this.now());
    await this.plans.updateTask(task);
  }

  private async conflict(plan: Plan, branch: PlanBranch, task: PlanTask, files: string[], tasks: readonly PlanTask[], slotFree: boolean): Promise<void> {
    task.conflicted(files);
    const work = task.workSessionId ? await this.sessions.get(task.workSessionId) : null;
    const taskBranch = work?.changes?.branch;
    const failure = conflictFailure(task, branch, taskBranch ?? 'its branch', files);
    if (!taskBranch || task.resolverTries >= this.settings.resolverTries) {
      await this.end(task, TaskStatus.CONFLICTED, failure);
      return;
    }
    if (!slotFree) {
      await this.plans.updateTask(task); // the conflict is recorded; the resolver waits for a slot
      return;
    }
    let outcome;
    try {
      outcome = await this.sessions.create({
        title: `${task.key} (resolver): ${task.spec.title}`.slice(0, 200),
        prompt: resolverPrompt({ task, integrationBranch: branch.name, taskBranch, merged: mergedTasks(tasks), conflicts: files }),
        workspace: plan.workspace,
        role: 'DEBUGGER',
        skills: task.spec.skills,
        complexity: task.spec.complexity,
        // retryOf: the session whose work it resolves.
        origin: { planId: plan.id, taskKey: task.key, retryOf: work!.id },
        createdByKeyId: plan.createdByKeyId,
        worktree: { baseRef: branch.name, mergeIn: taskBranch },
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      await this.end(task, TaskStatus.CONFLICTED, { code: failure.code, message: `${failure.message}; no resolver: ${err.code}: ${err.message}` });
      return;
    }
    if ('waiting' in outcome) {
      this.logger.debug(`Plan ${plan.id} task ${task.key}: its resolver waits for an agent (${outcome.waiting})`);
      await this.plans.updateTask(task);
      return;
    }
    await attachAndStart({ plans: this.plans, sessions: this.sessions, logger: this.logger }, task, outcome.session, 'RESOLVER', this.now());
  }

  private async end(task: PlanTask, status: TaskStatus.FAILED | TaskStatus.CONFLICTED, failure: RunFailure): Promise<void> {
    task.end(status, failure, this.now());
    await this.plans.updateTask(task);
  }
}

/** The tasks whose work is in the integration branch, in the order they were merged. */
function mergedTasks(tasks: readonly PlanTask[]): PlanTask[] {
  return tasks.filter((t) => t.merge?.mergedAt).sort((a, b) => a.merge!.mergedAt!.getTime() - b.merge!.mergedAt!.getTime());
}

function conflictFailure(task: PlanTask, branch: PlanBranch, taskBranch: string, files: readonly string[]): RunFailure {
  const tries = task.resolverTries;
  const after = tries > 0 ? `, still after ${tries} resolver session${tries === 1 ? '' : 's'}` : '';
  return { code: 'MERGE_CONFLICT', message: `${taskBranch} conflicts with ${branch.name} in ${files.join(', ') || 'files git did not name'}${after}` };
}

interface QueuedMerge {
  task: PlanTask;
  sourceId: string;
  branchName: string;
  item: { source: string; message: string };
}

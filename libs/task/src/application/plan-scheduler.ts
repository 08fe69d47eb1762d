import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { WORKSPACE_PORT, WorkspacePort } from '@app/workspace';
import { LOCK_PORT, LockError, LockErrorCode, LockPort } from '@app/locking';
import { addSpend, DomainError, RunFailure, Spend, ZERO_SPEND } from '@app/shared';
import { Plan, PlanTask, TaskSessionRef } from '../domain/plan';
import { BLOCKING_TASK_STATUSES, isFinalTask, PlanStatus, SLOT_TASK_STATUSES, TaskStatus } from '../domain/plan-status';
import { pickReady } from '../domain/scheduling';
import { budgetShortfall, shortfallMessage } from '../domain/budget-forecast';
import { BUDGET_EXCEEDED, PLAN_SPENDING, PlanSpendingPort } from './ports/plan-spending.port';
import { TaskForecaster } from './task-forecaster';
import { PLAN_REPOSITORY, PlanRepositoryPort } from './ports/plan.repository.port';
import {
  CreateTaskSession,
  FINAL_SESSION_STATUSES,
  INFRASTRUCTURE_ATTEMPTS,
  INFRASTRUCTURE_FAILURES,
  TASK_SESSIONS,
  TaskSessionsPort,
  TaskSessionView,
} from './ports/task-sessions.port';
import { TaskMerges } from './task-merges';
import { debugPrompt, taskPrompt } from './task-prompts';
import { attachAndStart, hasCommits } from './task-session-start';

/** A scheduler tick holds `plan:<id>` this long at most (renewed while it works). */
const PLAN_LOCK_TTL_MS = 15_000;

export const PLAN_CANCELLED: RunFailure = { code: 'PLAN_CANCELLED', message: 'the plan was cancelled' };

type AdvanceOutcome = 'busy' | 'missing' | 'idle' | 'advanced' | 'finished';

/**
 * Moves one plan forward from its stored state and its sessions' real statuses: settles tasks
 * whose session ended (retrying a failure once on a DEBUGGER), merges finished tasks' branches
 * into the plan's integration branch (a git workspace: see TaskMerges), blocks the dependents of
 * what failed, starts ready tasks within the parallel-task limit (least slack first) and finishes the
 * plan. Every step is idempotent, so a tick may be repeated, or resumed by another process
 * after a crash, without starting anything twice: a task's session id is stored on the task
 * before that session is started, and a stored session still PENDING is started by the next tick.
 */
@Injectable()
export class PlanScheduler {
  private readonly logger = new Logger(PlanScheduler.name);

  constructor(
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepositoryPort,
    @Inject(TASK_SESSIONS) private readonly sessions: TaskSessionsPort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    private readonly config: AppConfig,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    private readonly merges: TaskMerges,
    @Inject(PLAN_SPENDING) private readonly spending: PlanSpendingPort,
    private readonly forecaster: TaskForecaster,
  ) {}

  private now(): Date {
    return new Date();
  }

  /** One tick for one plan, under `plan:<id>`; a plan another tick or command holds is skipped ('busy'). */
  async advance(planId: string): Promise<AdvanceOutcome> {
    let lease;
    try {
      lease = await this.locks.acquire(`plan:${planId}`, { owner: `plan-scheduler:${this.workspaces.hostId}:${randomUUID()}`, ttlMs: PLAN_LOCK_TTL_MS, waitTimeoutMs: 0 });
    } catch (err) {
      if (err instanceof LockError && err.code === LockErrorCode.LOCK_TIMEOUT) return 'busy';
      throw err;
    }
    try {
      return await this.advanceLocked(planId);
    } finally {
      await this.locks.release(lease).catch((err: Error) => this.logger.warn(`Could not release plan:${planId}: ${err.message}`));
    }
  }

  /** The tick's work; the caller holds `plan:<id>`. */
  async advanceLocked(planId: string): Promise<AdvanceOutcome> {
    const plan = await this.plans.findById(planId);
    if (!plan) return 'missing';
    const tasks = await this.plans.tasksOf(planId);
    if (plan.status === PlanStatus.CANCELLED) {
      // A cancel that stopped half-way (a crash): finish it.
      await this.cancelTasks(tasks, PLAN_CANCELLED);
      return 'finished';
    }
    // PAUSED: what runs is settled and merged; nothing new starts (startReady, no resolver, no Debugger retry).
    if (plan.status !== PlanStatus.RUNNING && plan.status !== PlanStatus.PAUSED) return 'idle';

    if (!(await this.workspaces.isDirectory(plan.workspace))) {
      const error = { code: 'WORKSPACE_MISSING', message: `the plan's workspace ${plan.workspace} no longer exists or is not a directory` };
      await this.cancelTasks(tasks, error);
      plan.finish(PlanStatus.FAILED, error, this.now());
      await this.plans.updatePlan(plan);
      return 'finished';
    }

    const byKey = new Map(tasks.map((t) => [t.key, t]));
    for (const task of tasks) {
      if (SLOT_TASK_STATUSES.includes(task.status)) await this.settle(plan, task, byKey);
    }
    await this.merges.mergeQueued(plan, tasks, plan.status === PlanStatus.RUNNING ? this.config.maxConcurrentSessions : 0);
    await this.block(plan, byKey);
    await this.startReady(plan, tasks, byKey);
    await this.block(plan, byKey);

    if (!tasks.every((t) => isFinalTask(t.status))) return 'advanced';
    const notDone = tasks.filter((t) => t.status !== TaskStatus.COMPLETED);
    if (notDone.length === 0) {
      plan.finish(PlanStatus.COMPLETED, null, this.now());
    } else {
      const names = (status: TaskStatus) => notDone.filter((t) => t.status === status).map((t) => t.key);
      const parts = [
        [TaskStatus.FAILED, 'failed'],
        [TaskStatus.CONFLICTED, 'conflicted'],
        [TaskStatus.CANCELLED, 'cancelled'],
        [TaskStatus.BLOCKED, 'blocked'],
      ] as const;
      const message = parts
        .map(([status, word]) => [word, names(status)] as const)
        .filter(([, keys]) => keys.length > 0)
        .map(([word, keys]) => `${word}: ${keys.join(', ')}`)
        .join('; ');
      plan.finish(PlanStatus.FAILED, { code: 'TASKS_FAILED', message: `${notDone.length} of ${tasks.length} tasks did not complete (${message})` }, this.now());
    }
    await this.plans.updatePlan(plan);
    return 'finished';
  }

  /**
   * Cancels every task not in a final status: its session is cancelled when still live. A task
   * whose session completed meanwhile without commits to merge is recorded COMPLETED instead; one
   * whose branch is not merged yet (MERGING, or its session just completed) is CANCELLED, its
   * branch left unmerged.
   */
  async cancelTasks(tasks: readonly PlanTask[], reason: RunFailure): Promise<void> {
    for (const task of tasks) {
      if (isFinalTask(task.status)) continue;
      if (SLOT_TASK_STATUSES.includes(task.status) && task.sessionId) {
        const session = await this.sessions.get(task.sessionId);
        if (session?.status === 'COMPLETED' && task.status !== TaskStatus.RESOLVING && !hasCommits(session)) {
          task.complete(session.result, session.usage, this.now());
          await this.plans.updateTask(task);
          continue;
        }
        if (session && !FINAL_SESSION_STATUSES.includes(session.status)) await this.sessions.cancel(session.id);
        else task.addUsage(session?.usage ?? null);
      }
      task.end(TaskStatus.CANCELLED, reason, this.now());
      await this.plans.updateTask(task);
    }
  }

  /** A task whose session ended: completed (or queued to merge), retried once on the Debugger, failed or cancelled. */
  private async settle(plan: Plan, task: PlanTask, byKey: Map<string, PlanTask>): Promise<void> {
    const session = task.sessionId ? await this.sessions.get(task.sessionId) : null;
    if (!session) {
      task.end(TaskStatus.FAILED, { code: 'SESSION_MISSING', message: `the task's session ${task.sessionId} no longer exists (deleted)` }, this.now());
      await this.plans.updateTask(task);
      return;
    }
    switch (session.status) {
      case 'PENDING':
        // Created and stored on the task, but the process stopped before starting it.
        await this.sessions.start(session.id).catch((err: Error) => this.logger.warn(`Task ${task.key}: could not start session ${session.id} yet: ${err.message}`));
        return;
      case 'QUEUED':
      case 'RUNNING':
        return;
      case 'COMPLETED':
        await this.completed(plan, task, session);
        return;
      case 'CANCELLED':
        task.addUsage(session.usage);
        task.end(TaskStatus.CANCELLED, { code: 'SESSION_CANCELLED', message: `its session ${session.id} was cancelled outside the plan` }, this.now());
        await this.plans.updateTask(task);
        return;
      case 'FAILED':
      case 'TIMED_OUT': {
        const failure = session.error ?? { code: session.status, message: `the session ended ${session.status}` };
        if (failure.code === BUDGET_EXCEEDED && task.status !== TaskStatus.RESOLVING) {
          await this.budgetStopped(plan, task, session, failure);
          return;
        }
        if (INFRASTRUCTURE_FAILURES.includes(failure.code) && session.attempt < INFRASTRUCTURE_ATTEMPTS) {
          this.logger.warn(`Plan ${plan.id} task ${task.key}: session ${session.id} ended ${failure.code}; running it again`);
          await this.sessions.retry(session.id);
          return;
        }
        if (task.status === TaskStatus.RUNNING) {
          // A paused plan starts no session, the Debugger's neither: the retry waits for the resume.
          if (plan.status === PlanStatus.RUNNING) await this.retryOnDebugger(plan, task, session, failure, byKey);
          return;
        }
        if (task.status === TaskStatus.RESOLVING) {
          task.unresolved(session.usage, { code: failure.code, message: `its resolver session ${session.id} ended ${session.status}: ${failure.message}` }, this.now());
          await this.plans.updateTask(task);
          if (failure.code === BUDGET_EXCEEDED) await this.pause(plan, `task ${task.key}'s resolver session ${session.id} was stopped at the plan's budget: ${failure.message}`);
          return;
        }
        task.addUsage(session.usage);
        task.end(TaskStatus.FAILED, { code: failure.code, message: `the Debugger's retry failed too: ${failure.message}` }, this.now());
        await this.plans.updateTask(task);
        return;
      }
    }
  }

  /**
   * A completed session: its task is COMPLETED in a shared workspace or when it committed nothing;
   * else its branch joins the merge queue (MERGING). A resolver's branch joins the queue in place
   * of the task's own; a resolver that committed nothing resolved nothing.
   */
  private async completed(plan: Plan, task: PlanTask, session: TaskSessionView): Promise<void> {
    if (task.status === TaskStatus.RESOLVING && hasCommits(session)) task.resolved(session.usage, this.now());
    else if (task.status === TaskStatus.RESOLVING) task.unresolved(session.usage, { code: 'MERGE_CONFLICT_UNRESOLVED', message: `its resolver session ${session.id} committed nothing` }, this.now());
    else if (plan.branch && hasCommits(session)) task.awaitMerge(session.result, session.usage, this.now());
    else task.complete(session.result, session.usage, this.now());
    await this.plans.updateTask(task);
  }

  /**
   * A session stopped at the plan's budget (the spending context's guard) is not the work's
   * failure: no Debugger retry. The task goes back to PENDING (usage kept, the stopped session
   * listed) and the plan is PAUSED (BUDGET): raising the budget and running the plan again starts
   * a new session for it.
   */
  private async budgetStopped(plan: Plan, task: PlanTask, session: TaskSessionView, failure: RunFailure): Promise<void> {
    task.budgetStopped(session.usage, { code: failure.code, message: `its session ${session.id} was stopped at the plan's budget (${failure.message}); it starts again when the plan resumes` }, this.now());
    await this.plans.updateTask(task);
    await this.pause(plan, `task ${task.key}'s session ${session.id} was stopped at the plan's budget: ${failure.message}`);
  }

  private async pause(plan: Plan, message: string): Promise<void> {
    if (plan.status !== PlanStatus.RUNNING && plan.status !== PlanStatus.PAUSED) return;
    this.logger.log(`Plan ${plan.id} PAUSED (BUDGET): ${message}`);
    plan.pause('BUDGET', message, this.now());
    await this.plans.updatePlan(plan);
  }

  /**
   * The forecast of a new session for the task when it fits what is left of the plan's budget
   * (zero without a budget: nothing forecast); null when it does not, the plan PAUSED with the task
   * named. `spend.committed`: forecasts of the sessions this tick started already (not in the ledger yet).
   */
  private async fitsBudget(plan: Plan, task: PlanTask, spend: TickSpend, role?: TaskSessionRef['role']): Promise<Spend | null> {
    const budget = plan.budget;
    if (!budget) return { ...ZERO_SPEND };
    spend.spent ??= (await this.spending.spentBy([plan.id])).get(plan.id) ?? { ...ZERO_SPEND };
    const forecast = await this.forecaster.forecast(task, role);
    const shortfall = budgetShortfall(budget, spend.spent, spend.committed, forecast);
    if (!shortfall) return forecast;
    await this.pause(plan, shortfallMessage(task.key, shortfall));
    return null;
  }

  private async retryOnDebugger(plan: Plan, task: PlanTask, failed: TaskSessionView, failure: RunFailure, byKey: Map<string, PlanTask>): Promise<void> {
    if (!(await this.fitsBudget(plan, task, newTickSpend(), 'DEBUGGER'))) return;
    const deps = task.dependsOn.map((k) => byKey.get(k)!);
    let outcome;
    try {
      outcome = await this.sessions.create({
        title: `${task.key} (Debugger retry): ${task.spec.title}`.slice(0, 200),
        prompt: debugPrompt(task, plan.requirement, deps, failure, failed.result, hasCommits(failed) ? failed.changes!.branch : null),
        workspace: plan.workspace,
        role: 'DEBUGGER',
        skills: task.spec.skills,
        complexity: task.spec.complexity,
        origin: { planId: plan.id, taskKey: task.key, retryOf: failed.id },
        createdByKeyId: plan.createdByKeyId,
        ...worktreeOf(plan),
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      task.addUsage(failed.usage);
      task.end(TaskStatus.FAILED, { code: failure.code, message: `${failure.message}; no Debugger retry: ${err.code}: ${err.message}` }, this.now());
      await this.plans.updateTask(task);
      return;
    }
    if ('waiting' in outcome) {
      this.logger.debug(`Plan ${plan.id} task ${task.key}: Debugger retry waits for an agent (${outcome.waiting})`);
      return;
    }
    task.recordPartial(failed.result, failure);
    task.addUsage(failed.usage);
    await this.attachAndStart(task, outcome.session, 'DEBUG_RETRY');
  }

  /** PENDING tasks with a failed, cancelled or blocked dependency, in dependency order (so it is transitive). */
  private async block(plan: Plan, byKey: Map<string, PlanTask>): Promise<void> {
    for (const key of plan.analysis.order) {
      const task = byKey.get(key);
      if (!task || task.status !== TaskStatus.PENDING) continue;
      const blocker = task.dependsOn.map((k) => byKey.get(k)!).find((d) => BLOCKING_TASK_STATUSES.includes(d.status));
      if (!blocker) continue;
      task.end(TaskStatus.BLOCKED, { code: 'DEPENDENCY_NOT_COMPLETED', message: `its dependency ${blocker.key} is ${blocker.status}` }, this.now());
      await this.plans.updateTask(task);
    }
  }

  /**
   * Ready tasks (every dependency COMPLETED, so merged into the integration branch in a git
   * workspace), least slack first, into the free slots: the running process's
   * MAX_CONCURRENT_SESSIONS is a plan's parallel-task limit.
   */
  private async startReady(plan: Plan, tasks: readonly PlanTask[], byKey: Map<string, PlanTask>): Promise<void> {
    if (plan.status !== PlanStatus.RUNNING) return;
    const maxParallelTasks = this.config.maxConcurrentSessions;
    const active = tasks.filter((t) => SLOT_TASK_STATUSES.includes(t.status)).length;
    let free = maxParallelTasks - active;
    if (free <= 0) return;
    const ready = tasks
      .filter((t) => t.status === TaskStatus.PENDING && t.dependsOn.every((k) => byKey.get(k)?.status === TaskStatus.COMPLETED))
      .map((t) => t.key);
    const slack: Record<string, number> = {};
    for (const [key, s] of Object.entries(plan.analysis.schedule)) slack[key] = s.slack;
    // The whole ready list in pickReady's order: a task that must wait for an agent leaves its slot to the next one.
    const spend = newTickSpend();
    for (const key of pickReady(ready, slack, ready.length)) {
      if (free <= 0) break;
      const task = byKey.get(key)!;
      // The first task that does not fit pauses the plan: nothing after it starts either (no cheaper task jumps the queue).
      const forecast = await this.fitsBudget(plan, task, spend);
      if (!forecast) return;
      if (await this.startTask(plan, task, byKey)) {
        free--;
        spend.committed = addSpend(spend.committed, forecast);
      }
    }
  }

  private async startTask(plan: Plan, task: PlanTask, byKey: Map<string, PlanTask>): Promise<boolean> {
    const spec = task.spec;
    let outcome;
    try {
      outcome = await this.sessions.create({
        title: `${task.key}: ${spec.title}`.slice(0, 200),
        prompt: taskPrompt(task, plan.requirement, spec.dependsOn.map((k) => byKey.get(k)!)),
        workspace: plan.workspace,
        role: spec.role,
        skills: spec.skills,
        complexity: spec.complexity,
        origin: { planId: plan.id, taskKey: task.key, retryOf: null },
        createdByKeyId: plan.createdByKeyId,
        ...worktreeOf(plan),
      });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      task.end(TaskStatus.FAILED, { code: err.code, message: `no session could be made for it: ${err.message}` }, this.now());
      await this.plans.updateTask(task);
      return false;
    }
    if ('waiting' in outcome) {
      this.logger.debug(`Plan ${plan.id} task ${task.key} waits for an agent (${outcome.waiting})`);
      return false;
    }
    await this.attachAndStart(task, outcome.session, 'TASK');
    return true;
  }

  private attachAndStart(task: PlanTask, session: TaskSessionView, kind: TaskSessionRef['kind']): Promise<void> {
    return attachAndStart({ plans: this.plans, sessions: this.sessions, logger: this.logger }, task, session, kind, this.now());
  }
}

/** The plan's spend as one tick sees it: the ledger read once (lazily), plus what it started. */
interface TickSpend {
  spent: Spend | null;
  committed: Spend;
}

function newTickSpend(): TickSpend {
  return { spent: null, committed: { ...ZERO_SPEND } };
}

/**
 * A task session in a git workspace works in its own worktree, made from the integration branch
 * (which holds everything the task depends on); without a branch it shares the workspace.
 */
function worktreeOf(plan: Plan): Pick<CreateTaskSession, 'worktree'> {
  return plan.branch ? { worktree: { baseRef: plan.branch.name } } : {};
}

import type { Budget, RunFailure, RunResult, Spend, TokenUsage } from '@app/shared';
import type { AgentRunHistory } from '../domain/budget-forecast';
import type { AgentRunHistoryPort, TaskWork } from '../application/ports/agent-run-history.port';
import type { PlanSpendingPort } from '../application/ports/plan-spending.port';
import { Plan, PlanProps, PlanTask, PlanTaskProps } from '../domain/plan';
import { PlanError } from '../domain/plan.errors';
import { ACTIVE_TASK_STATUSES, LIVE_TASK_STATUSES, PlanStatus } from '../domain/plan-status';
import { PlanListQuery, PlanRepositoryPort, PrunablePlan, PrunablePlanCursor } from '../application/ports/plan.repository.port';
import { FakeGit } from './fake-git';
import {
  CreateTaskSession,
  CreateTaskSessionOutcome,
  FINAL_SESSION_STATUSES,
  TaskSessionChanges,
  TaskSessionsPort,
  TaskSessionStatus,
  TaskSessionView,
} from '../application/ports/task-sessions.port';

/** Unit-test double of the plan repository with the same version checks and soft delete as the real one. */
export class InMemoryPlanRepository implements PlanRepositoryPort {
  readonly plans = new Map<string, PlanProps>();
  readonly tasks = new Map<string, PlanTaskProps>();

  async insert(plan: Plan, tasks: readonly PlanTask[]): Promise<void> {
    this.plans.set(plan.id, plan.snapshot());
    for (const t of tasks) this.tasks.set(t.id, t.snapshot());
  }

  async updatePlan(plan: Plan): Promise<void> {
    const stored = this.plans.get(plan.id);
    if (!stored || stored.deletedAt || stored.version !== plan.version) throw PlanError.versionConflict('Plan', plan.id, plan.version);
    plan.persisted(plan.version + 1);
    this.plans.set(plan.id, plan.snapshot());
  }

  async updateTask(task: PlanTask): Promise<void> {
    const stored = this.tasks.get(task.id);
    if (!stored || stored.version !== task.version) throw PlanError.versionConflict('Task', task.id, task.version);
    task.persisted(task.version + 1);
    this.tasks.set(task.id, task.snapshot());
  }

  async findById(id: string, options: { includeDeleted?: boolean } = {}): Promise<Plan | null> {
    const p = this.plans.get(id);
    return p && (options.includeDeleted || !p.deletedAt) ? Plan.restore(p) : null;
  }

  async tasksOf(planId: string): Promise<PlanTask[]> {
    return [...this.tasks.values()].filter((t) => t.planId === planId).sort((a, b) => a.position - b.position).map((t) => PlanTask.restore(t));
  }

  async list(query: PlanListQuery): Promise<Plan[]> {
    return [...this.plans.values()]
      .filter((p) => !p.deletedAt && (!query.status || p.status === query.status))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, query.limit)
      .map((p) => Plan.restore(p));
  }

  async activePlanIds(): Promise<string[]> {
    return [...this.plans.values()]
      .filter(
        (p) =>
          !p.deletedAt &&
          (p.status === PlanStatus.RUNNING ||
            (p.status === PlanStatus.CANCELLED && [...this.tasks.values()].some((t) => t.planId === p.id && LIVE_TASK_STATUSES.includes(t.status))) ||
            (p.status === PlanStatus.PAUSED && [...this.tasks.values()].some((t) => t.planId === p.id && ACTIVE_TASK_STATUSES.includes(t.status)))),
      )
      .map((p) => p.id);
  }

  async meanComplexityOf(agentId: string, lastN: number): Promise<number | null> {
    const recent = [...this.tasks.values()]
      .filter((t) => t.agentId === agentId && t.startedAt)
      .sort((a, b) => b.startedAt!.getTime() - a.startedAt!.getTime())
      .slice(0, lastN);
    return recent.length ? recent.reduce((sum, t) => sum + t.complexity, 0) / recent.length : null;
  }

  async findPrunable(before: Date, limit: number, after: PrunablePlanCursor | null): Promise<PrunablePlan[]> {
    const key = (c: PrunablePlanCursor) => `${c.endedAt.toISOString()}|${c.id}`;
    return [...this.plans.values()]
      .map((p) => ({ plan: p, endedAt: this.prunableEnd(p, before) }))
      .filter((x): x is { plan: PlanProps; endedAt: Date } => x.endedAt !== null)
      .map(({ plan, endedAt }) => ({ id: plan.id, endedAt, sessionIds: this.sessionIdsOf(plan.id) }))
      .filter((c) => !after || key(c) > key(after))
      .sort((a, b) => a.endedAt.getTime() - b.endedAt.getTime() || a.id.localeCompare(b.id))
      .slice(0, limit);
  }

  async deletePrunable(ids: readonly string[], before: Date): Promise<{ plans: number; tasks: number }> {
    let plans = 0;
    let tasks = 0;
    for (const id of ids) {
      const plan = this.plans.get(id);
      if (!plan || !this.prunableEnd(plan, before)) continue;
      for (const t of [...this.tasks.values()].filter((x) => x.planId === id)) {
        this.tasks.delete(t.id);
        tasks++;
      }
      this.plans.delete(id);
      plans++;
    }
    return { plans, tasks };
  }

  /** When the plan ended if retention may delete it (see PlanRepositoryPort.findPrunable), else null. */
  private prunableEnd(p: PlanProps, before: Date): Date | null {
    const finished = [PlanStatus.COMPLETED, PlanStatus.FAILED, PlanStatus.CANCELLED].includes(p.status);
    const deletedDraft = p.status === PlanStatus.DRAFT && p.deletedAt !== null;
    const endedAt = p.finishedAt ?? p.deletedAt;
    if (!(finished || deletedDraft) || !endedAt || endedAt >= before) return null;
    const live = finished && [...this.tasks.values()].some((t) => t.planId === p.id && LIVE_TASK_STATUSES.includes(t.status));
    return live ? null : endedAt;
  }

  private sessionIdsOf(planId: string): string[] {
    const ids = [...this.tasks.values()].filter((t) => t.planId === planId).flatMap((t) => [...t.sessions.map((s) => s.sessionId), ...(t.sessionId ? [t.sessionId] : [])]);
    return [...new Set(ids)];
  }

  /** The stored task by key (the latest written state). */
  task(planId: string, key: string): PlanTaskProps {
    const t = [...this.tasks.values()].find((x) => x.planId === planId && x.key === key);
    if (!t) throw new Error(`no task ${key}`);
    return t;
  }
}

export interface FakeSession extends TaskSessionView {
  command: CreateTaskSession;
}

/**
 * The session context as the scheduler sees it: sessions the test moves by hand. With a FakeGit,
 * a session asked for a worktree gets a branch made from its baseRef (a resolver's with its mergeIn
 * merged in), and `finish` commits the files it is given there, as the session side does.
 */
export class FakeTaskSessions implements TaskSessionsPort {
  readonly sessions = new Map<string, FakeSession>();
  readonly created: FakeSession[] = [];
  readonly starts: string[] = [];
  readonly cancels: string[] = [];
  /** markMerged calls, in order. */
  readonly merged: Array<{ sessionId: string; target: string; commit: string }> = [];
  /** Roles for which create answers `waiting` (every agent of the role saturated). */
  readonly saturatedRoles = new Set<string>();
  private next = 1;

  constructor(private readonly git?: FakeGit) {}

  async create(command: CreateTaskSession): Promise<CreateTaskSessionOutcome> {
    if (this.saturatedRoles.has(command.role)) return { waiting: `every ${command.role} agent is busy` };
    const id = `00000000-0000-4000-8000-${String(this.next++).padStart(12, '0')}`;
    const session: FakeSession = {
      id,
      status: 'PENDING',
      attempt: 1,
      agentId: `agent-${command.role.toLowerCase()}`,
      prompt: command.prompt,
      result: null,
      usage: null,
      error: null,
      startedAt: null,
      finishedAt: null,
      changes: this.branchFor(id, command),
      command,
    };
    this.sessions.set(id, session);
    this.created.push(session);
    return { session: { ...session } };
  }

  async start(sessionId: string): Promise<void> {
    const s = this.sessions.get(sessionId)!;
    this.starts.push(sessionId);
    if (s.status === 'PENDING') s.status = 'QUEUED';
  }

  async cancel(sessionId: string): Promise<void> {
    const s = this.sessions.get(sessionId);
    if (!s || FINAL_SESSION_STATUSES.includes(s.status)) return;
    this.cancels.push(sessionId);
    s.status = 'CANCELLED';
  }

  readonly retries: string[] = [];

  async retry(sessionId: string): Promise<void> {
    const s = this.sessions.get(sessionId)!;
    this.retries.push(sessionId);
    s.status = 'QUEUED';
    s.attempt += 1;
    s.error = null;
  }

  async get(sessionId: string): Promise<TaskSessionView | null> {
    const s = this.sessions.get(sessionId);
    return s ? { ...s } : null;
  }

  async markMerged(sessionId: string, merge: { target: string; commit: string }): Promise<void> {
    const s = this.sessions.get(sessionId)!;
    if (this.merged.some((m) => m.sessionId === sessionId)) return;
    this.merged.push({ sessionId, ...merge });
    const repository = this.git!.rootOf(s.command.workspace)!;
    await this.git!.deleteBranch(repository, s.changes!.branch);
  }

  async unfinished(sessionIds: readonly string[]): Promise<string[]> {
    return sessionIds.filter((id) => {
      const s = this.sessions.get(id);
      return s !== undefined && !FINAL_SESSION_STATUSES.includes(s.status);
    });
  }

  /** The session made for a task (by its origin's taskKey), the latest first. */
  of(taskKey: string): FakeSession[] {
    return this.created.filter((s) => s.command.origin.taskKey === taskKey).reverse();
  }

  /**
   * Ends a session. `writes`: files its run wrote, committed on its branch (a worktree session); a
   * resolver's commit also merges its mergeIn, every conflicting file not written keeping its markers.
   */
  finish(
    sessionId: string,
    status: Extract<TaskSessionStatus, 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED'>,
    outcome: { result?: RunResult; usage?: TokenUsage; error?: RunFailure; writes?: Record<string, string> } = {},
  ): void {
    const s = this.sessions.get(sessionId)!;
    // Like git: nothing written, no commit.
    if (outcome.writes && Object.keys(outcome.writes).length > 0) this.commit(s, outcome.writes);
    s.status = status;
    s.result = outcome.result ?? null;
    s.usage = outcome.usage ?? { inputTokens: 10, outputTokens: 5, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.01 };
    s.error = outcome.error ?? null;
    s.finishedAt = new Date();
  }

  private branchFor(id: string, command: CreateTaskSession): TaskSessionChanges | null {
    if (!command.worktree || !this.git) return null;
    const repository = this.git.rootOf(command.workspace)!;
    const branch = `orchestrator/${id.slice(-8)}-session`;
    const baseCommit = this.git.commitOfSync(repository, command.worktree.baseRef);
    this.git.setBranch(repository, branch, baseCommit);
    return { branch, baseCommit, headCommit: baseCommit, files: [], insertions: 0, deletions: 0 };
  }

  private commit(s: FakeSession, writes: Record<string, string>): void {
    const git = this.git!;
    const repository = git.rootOf(s.command.workspace)!;
    const changes = s.changes!;
    const mergeIn = s.command.worktree?.mergeIn;
    let files: Record<string, string | null> = writes;
    const parents: string[] = [];
    if (mergeIn) {
      const merged = git.mergeFiles(repository, changes.branch, mergeIn);
      const current = git.read(repository, changes.branch);
      files = { ...Object.fromEntries(Object.keys(current).map((p) => [p, null])), ...merged.files, ...writes };
      parents.push(git.commitOfSync(repository, mergeIn));
    }
    const headCommit = git.commit(repository, changes.branch, files, `session ${s.id}`, parents);
    const diff = git.read(repository, headCommit);
    const base = git.read(repository, changes.baseCommit);
    const changed = [...new Set([...Object.keys(diff), ...Object.keys(base)])].filter((p) => diff[p] !== base[p]).sort();
    s.changes = { ...changes, headCommit, files: changed, insertions: changed.length, deletions: 0 };
  }
}

/** The spending context as plans see it: a ledger the test sets by hand, and the limits the guard was given. */
export class FakePlanSpending implements PlanSpendingPort {
  readonly spent = new Map<string, Spend>();
  readonly limits = new Map<string, Budget | null>();

  async spentBy(planIds: string[]): Promise<Map<string, Spend>> {
    return new Map(planIds.filter((id) => this.spent.has(id)).map((id) => [id, { ...this.spent.get(id)! }]));
  }

  async setLimit(planId: string, budget: Budget | null): Promise<void> {
    this.limits.set(planId, budget && { ...budget });
  }
}

/** Agents' recent figures by role (routing reduced to "the agent of the role"); none: no agent has history. */
export class FakeAgentRunHistory implements AgentRunHistoryPort {
  readonly byRole = new Map<string, Omit<AgentRunHistory, 'meanComplexity'> & { meanComplexity?: number | null }>();
  readonly asked: TaskWork[] = [];

  async historyFor(work: TaskWork): Promise<AgentRunHistory | null> {
    this.asked.push(work);
    const h = this.byRole.get(work.role);
    return h ? { meanComplexity: null, ...h } : { agentId: `agent-${work.role.toLowerCase()}`, runs: 0, costUsdPerRun: null, minutesPerRun: null, meanComplexity: null };
  }
}

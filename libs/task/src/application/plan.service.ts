import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { LOCK_PORT, LockPort } from '@app/locking';
import { WORKSPACE_PORT, WorkspacePort } from '@app/workspace';
import { Budget, remainingOf, Spend, ZERO_SPEND } from '@app/shared';
import { sumForecasts } from '../domain/budget-forecast';
import { analyseComplexity, ComplexityAnalysis } from '../domain/complexity';
import { analysePlan } from '../domain/dag';
import { decompose, MAX_REQUIREMENT_LENGTH } from '../domain/decompose';
import { TaskError } from '../domain/task.errors';
import { TaskSpec } from '../domain/task-spec';
import { TemplateName } from '../domain/templates';
import { Plan, PlanTask } from '../domain/plan';
import { PlanBranchChanges } from '../domain/plan-branch';
import { PlanError } from '../domain/plan.errors';
import { IntegrationBranches, PlanMergeRequest, PlanMergeResult } from './integration-branches';
import { PlanKicker } from './plan-kicker';
import { PLAN_CANCELLED, PlanScheduler } from './plan-scheduler';
import { PlanStatus, TaskStatus } from '../domain/plan-status';
import { PLAN_REPOSITORY, PlanRepositoryPort } from './ports/plan.repository.port';
import { TASK_SESSIONS, TaskSessionsPort, TaskSessionView } from './ports/task-sessions.port';
import { PLAN_SPENDING, PlanSpendingPort } from './ports/plan-spending.port';
import { TaskForecaster } from './task-forecaster';

export interface CreatePlanCommand {
  requirement: string;
  workspace: string;
  /** The caller's API key roots: the workspace must resolve inside one of them too. */
  workspaceRoots?: readonly string[] | null;
  /** The caller's API key id, recorded on the plan and on every session it starts. */
  createdByKeyId?: string | null;
  template?: TemplateName;
  /** The user's own graph; validated as given (missing skills, dependsOn, complexity, estimateMinutes take defaults). */
  tasks?: unknown[];
  /** What all its tasks together may spend; validated (VALIDATION_FAILED naming the field). */
  budget?: unknown;
}

/** A plan's spending: what its sessions spent, what its tasks not started yet are forecast to, what is left of its budget. */
export interface PlanSpend {
  spent: Spend;
  /** Summed forecasts of its PENDING tasks (see forecastTask). */
  forecast: Spend;
  /** What is left of each limit set; null without a budget. */
  remaining: Budget | null;
}

export interface PlanDetail {
  plan: Plan;
  tasks: PlanTask[];
  /** Every session of every task, as they are now (absent: deleted). */
  sessions: Map<string, TaskSessionView>;
  /** What the plan's integration branch holds now; null without a branch (or when it is gone). */
  branchChanges: PlanBranchChanges | null;
  spend: PlanSpend;
}

/** Defaults of a user task's optional fields. */
const TASK_DEFAULTS = { skills: [] as string[], dependsOn: [] as string[], complexity: 5, estimateMinutes: 30 };

/** Lifecycle commands wait this long for a scheduler tick that holds the plan. */
const PLAN_COMMAND_LOCK_WAIT_MS = 30_000;

/** Use cases of plans: create (decompose or validate), run, cancel, read, delete. */
@Injectable()
export class PlanService {
  private readonly logger = new Logger(PlanService.name);

  constructor(
    @Inject(PLAN_REPOSITORY) private readonly plans: PlanRepositoryPort,
    @Inject(TASK_SESSIONS) private readonly sessions: TaskSessionsPort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    private readonly scheduler: PlanScheduler,
    private readonly kicker: PlanKicker,
    private readonly config: AppConfig,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    private readonly branches: IntegrationBranches,
    @Inject(PLAN_SPENDING) private readonly spending: PlanSpendingPort,
    private readonly forecaster: TaskForecaster,
  ) {}

  /** A DRAFT plan: decomposed from the requirement, or the user's tasks validated as given. */
  async create(command: CreatePlanCommand): Promise<PlanDetail> {
    const workspace = await this.workspaces.resolve(command.workspace, command.workspaceRoots);
    let specs: TaskSpec[];
    let template: string | null;
    let chosenBecause: string;
    let complexity: ComplexityAnalysis;
    if (command.tasks !== undefined) {
      assertRequirement(command.requirement);
      specs = command.tasks.map(withDefaults);
      template = null;
      chosenBecause = 'the tasks were given with the request';
      complexity = analyseComplexity(command.requirement);
    } else {
      const decomposition = decompose(command.requirement, { template: command.template });
      ({ template, chosenBecause, complexity, tasks: specs } = decomposition);
    }
    // A plan runs at most MAX_CONCURRENT_SESSIONS tasks at once; its analysis assumes as many agents.
    const maxParallelTasks = this.config.maxConcurrentSessions;
    const analysis = analysePlan(specs, { agents: maxParallelTasks }); // validates: PLAN_INVALID naming the tasks
    const plan = Plan.create({
      requirement: command.requirement,
      workspace,
      template,
      chosenBecause,
      complexity,
      analysis,
      maxParallelTasks,
      createdByKeyId: command.createdByKeyId ?? null,
      budget: command.budget,
    });
    const tasks = specs.map((spec, i) => PlanTask.create(plan.id, spec, i));
    await this.plans.insert(plan, tasks);
    if (plan.budget) await this.spending.setLimit(plan.id, plan.budget);
    return { plan, tasks, sessions: new Map(), branchChanges: null, spend: await this.spendOf(plan, tasks) };
  }

  /**
   * A new budget (null: none) with the version read: PLAN_VERSION_CONFLICT when the plan changed
   * since (a pause changes it too); DRAFT, RUNNING or PAUSED only. It does not resume a PAUSED plan
   * (POST run does). The spending context's guard gets the new limit after it is stored.
   */
  async updateBudget(id: string, version: number, budget: unknown): Promise<PlanDetail> {
    if (budget === undefined) throw PlanError.invalidField('budget', 'must be given: {maxTokens?, maxCostUsd?, maxMinutes?}, or null for none');
    await this.withPlanLock(id, async (plan) => {
      if (plan.version !== version) throw PlanError.versionConflict('Plan', id, version);
      plan.changeBudget(budget);
      await this.plans.updatePlan(plan);
      await this.spending.setLimit(plan.id, plan.budget);
    });
    this.kicker.kick(id);
    return this.get(id);
  }

  async get(id: string): Promise<PlanDetail> {
    const plan = await this.plans.findById(id);
    if (!plan) throw PlanError.notFound(id);
    const tasks = await this.plans.tasksOf(id);
    const ids = tasks.flatMap((t) => t.snapshot().sessions.map((s) => s.sessionId));
    const views = await Promise.all(ids.map((sid) => this.sessions.get(sid)));
    const sessions = new Map<string, TaskSessionView>();
    views.forEach((v) => v && sessions.set(v.id, v));
    const branchChanges = plan.branch ? await this.branches.changesOf(plan.branch) : null;
    return { plan, tasks, sessions, branchChanges, spend: await this.spendOf(plan, tasks) };
  }

  private async spendOf(plan: Plan, tasks: readonly PlanTask[]): Promise<PlanSpend> {
    const pending = tasks.filter((t) => t.status === TaskStatus.PENDING);
    const [spentBy, forecasts] = await Promise.all([
      plan.status === PlanStatus.DRAFT ? new Map<string, Spend>() : this.spending.spentBy([plan.id]),
      Promise.all(pending.map((t) => this.forecaster.forecast(t))),
    ]);
    const spent = spentBy.get(plan.id) ?? { ...ZERO_SPEND };
    return { spent, forecast: sumForecasts(forecasts), remaining: remainingOf(plan.budget, spent) };
  }

  list(query: { status?: PlanStatus; limit?: number }): Promise<Plan[]> {
    return this.plans.list({ status: query.status, limit: query.limit ?? 20 });
  }

  /**
   * DRAFT → RUNNING, with its integration branch made from the workspace's HEAD when the workspace
   * is in a git work tree; PAUSED → RUNNING (resumed: the next task's forecast is checked against the
   * budget again, and pauses it again if it still does not fit). The scheduler starts tasks at once
   * when it runs in this process, else at its next tick.
   */
  async run(id: string): Promise<PlanDetail> {
    await this.withPlanLock(id, async (plan) => {
      if (plan.status === PlanStatus.PAUSED) plan.resume();
      else if (plan.status === PlanStatus.DRAFT) plan.start(await this.branches.open(plan.id, plan.workspace));
      else throw PlanError.invalidState(id, plan.status, 'run');
      await this.plans.updatePlan(plan);
    });
    this.kicker.kick(id);
    return this.get(id);
  }

  /** DRAFT | RUNNING | PAUSED → CANCELLED: running task sessions are cancelled, pending tasks CANCELLED, nothing more starts. */
  async cancel(id: string): Promise<PlanDetail> {
    await this.withPlanLock(id, async (plan) => {
      plan.cancel(); // PLAN_INVALID_STATE when already final
      await this.plans.updatePlan(plan);
      // Recorded first: should this stop half-way, the scheduler finishes the cancel.
      await this.scheduler.cancelTasks(await this.plans.tasksOf(id), PLAN_CANCELLED);
    });
    return this.get(id);
  }

  /**
   * Merges a finished (COMPLETED or FAILED) plan's integration branch into the workspace's branch
   * (or `target`), in the repository's merge queue; nothing changes on a conflict or a dirty target.
   */
  async merge(id: string, request: PlanMergeRequest): Promise<PlanMergeResult> {
    const plan = await this.plans.findById(id);
    if (!plan) throw PlanError.notFound(id);
    return this.branches.mergePlan(plan, plan.assertMergeable(), request);
  }

  /** Soft delete (the rows stay); a RUNNING plan must be cancelled first. */
  async delete(id: string): Promise<void> {
    await this.withPlanLock(id, async (plan) => {
      plan.softDelete();
      await this.plans.updatePlan(plan);
    });
  }

  /** The same lock as the scheduler's ticks, so a command never interleaves with one. */
  private async withPlanLock(id: string, work: (plan: Plan) => Promise<void>): Promise<void> {
    if (!(await this.plans.findById(id))) throw PlanError.notFound(id);
    const lease = await this.locks.acquire(`plan:${id}`, {
      owner: `plan-api:${this.workspaces.hostId}:${randomUUID()}`,
      ttlMs: PLAN_COMMAND_LOCK_WAIT_MS,
      waitTimeoutMs: PLAN_COMMAND_LOCK_WAIT_MS,
    });
    try {
      const plan = await this.plans.findById(id);
      if (!plan) throw PlanError.notFound(id);
      await work(plan);
    } finally {
      await this.locks.release(lease).catch((err: Error) => this.logger.warn(`Could not release ${lease.resource}: ${err.message}`));
    }
  }
}

function withDefaults(raw: unknown): TaskSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw as TaskSpec; // validatePlan names it
  const t = raw as Record<string, unknown>;
  const or = <T>(value: unknown, fallback: T) => (value === undefined ? fallback : value) as T;
  return {
    key: t.key as string,
    title: t.title as string,
    instructions: t.instructions as string,
    role: t.role as TaskSpec['role'],
    skills: or(t.skills, [...TASK_DEFAULTS.skills]),
    complexity: or(t.complexity, TASK_DEFAULTS.complexity),
    estimateMinutes: or(t.estimateMinutes, TASK_DEFAULTS.estimateMinutes),
    dependsOn: or(t.dependsOn, [...TASK_DEFAULTS.dependsOn]),
  };
}

function assertRequirement(requirement: string): void {
  if (typeof requirement !== 'string' || requirement.trim() === '') throw TaskError.requirementInvalid('requirement', 'must not be empty');
  if (requirement.length > MAX_REQUIREMENT_LENGTH) {
    throw TaskError.requirementInvalid('requirement', `must be at most ${MAX_REQUIREMENT_LENGTH} characters (got ${requirement.length})`);
  }
}

import { randomUUID } from 'node:crypto';
import { addUsage, Budget, budgetProblem, normaliseBudget, RunFailure, RunResult, TokenUsage } from '@app/shared';
import type { ComplexityAnalysis } from './complexity';
import type { PlanAnalysis } from './dag';
import type { PlanBranch, TaskMerge } from './plan-branch';
import { PlanError, PlanErrorCode } from './plan.errors';
import { canMovePlan, canMoveTask, PlanStatus, TaskStatus } from './plan-status';
import type { TaskRole, TaskSpec } from './task-spec';

/**
 * One session a task ran on: its first attempt, the Debugger's retry, or a resolver of its
 * branch's merge conflict with the plan's integration branch.
 */
export interface TaskSessionRef {
  sessionId: string;
  kind: 'TASK' | 'DEBUG_RETRY' | 'RESOLVER';
  role: TaskRole;
  agentId: string | null;
  createdAt: Date;
}

/** Why a plan is PAUSED: BUDGET, the next task's forecast did not fit what is left of its budget (or a session was stopped at it). */
export type PausedReason = 'BUDGET';

export interface PlanProps {
  id: string;
  requirement: string;
  workspace: string;
  /** The decomposition template, or null for a plan whose tasks the user gave. */
  template: string | null;
  chosenBecause: string;
  complexity: ComplexityAnalysis;
  analysis: PlanAnalysis;
  /**
   * The parallel-task limit when the plan was made (MAX_CONCURRENT_SESSIONS then): the number of
   * agents its analysis assumes. The scheduler limits a running plan by the running process's value.
   * Stored as max_concurrent_sessions, shown as the API field maxConcurrentSessions.
   */
  maxParallelTasks: number;
  /** The API key that made it (BOOTSTRAP_KEY_ID for API_KEY; null with authentication off); its task sessions carry it too. */
  createdByKeyId: string | null;
  /** Its integration branch, made when it is run in a git workspace; null: its tasks share the workspace. */
  branch: PlanBranch | null;
  /** What all its tasks together may spend (null: no limit); the spending context's guard enforces it at run time too. */
  budget: Budget | null;
  status: PlanStatus;
  /** Set while PAUSED. */
  pausedReason: PausedReason | null;
  /** Which task's forecast did not fit what was left (or which session was stopped), while PAUSED. */
  pausedMessage: string | null;
  error: RunFailure | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  deletedAt: Date | null;
}

export type NewPlan = Pick<PlanProps, 'requirement' | 'workspace' | 'template' | 'chosenBecause' | 'complexity' | 'analysis' | 'maxParallelTasks'> & {
  createdByKeyId?: string | null;
  /** Validated (VALIDATION_FAILED naming the field) and normalised. */
  budget?: unknown;
};

/** A budget as given (a request's `budget`): VALIDATION_FAILED naming the field, else the normalised budget (null: none). */
export function validBudget(value: unknown): Budget | null {
  const problem = budgetProblem(value);
  if (problem) throw PlanError.invalidField(problem.field, problem.message);
  return normaliseBudget(value as Budget | null);
}

export class Plan {
  private constructor(private props: PlanProps) {}

  static create(input: NewPlan, now = new Date()): Plan {
    const { budget, ...rest } = input;
    return new Plan({
      ...rest,
      createdByKeyId: input.createdByKeyId ?? null,
      id: randomUUID(),
      branch: null,
      budget: budget === undefined ? null : validBudget(budget),
      status: PlanStatus.DRAFT,
      pausedReason: null,
      pausedMessage: null,
      error: null,
      version: 1,
      createdAt: now,
      updatedAt: now,
      startedAt: null,
      finishedAt: null,
      deletedAt: null,
    });
  }

  static restore(props: PlanProps): Plan {
    return new Plan({ ...props, budget: props.budget && { ...props.budget } });
  }

  get id(): string {
    return this.props.id;
  }
  get status(): PlanStatus {
    return this.props.status;
  }
  get version(): number {
    return this.props.version;
  }
  get workspace(): string {
    return this.props.workspace;
  }
  get createdByKeyId(): string | null {
    return this.props.createdByKeyId;
  }
  get requirement(): string {
    return this.props.requirement;
  }
  get analysis(): PlanAnalysis {
    return this.props.analysis;
  }
  get branch(): PlanBranch | null {
    return this.props.branch;
  }
  get budget(): Budget | null {
    return this.props.budget && { ...this.props.budget };
  }
  get pausedReason(): PausedReason | null {
    return this.props.pausedReason;
  }

  snapshot(): Readonly<PlanProps> {
    return { ...this.props };
  }

  persisted(version: number): void {
    this.props.version = version;
  }

  /** `branch`: the integration branch its tasks merge into (a git workspace); null: they share the workspace. */
  start(branch: PlanBranch | null = null, now = new Date()): void {
    this.moveTo(PlanStatus.RUNNING, 'run', now);
    this.props.branch = branch ? { ...branch } : null;
    this.props.startedAt = now;
  }

  /** A finished plan's branch may be merged into the workspace's; a running one is still being written. */
  assertMergeable(): PlanBranch {
    if (this.props.status !== PlanStatus.COMPLETED && this.props.status !== PlanStatus.FAILED) {
      throw PlanError.invalidState(this.id, this.status, 'merge (wait until it is COMPLETED or FAILED)');
    }
    if (!this.props.branch) throw PlanError.notIsolated(this.id);
    return this.props.branch;
  }

  /**
   * A new budget (null: none), raised or lowered, while the plan may still spend: DRAFT, RUNNING or
   * PAUSED (a finished or cancelled plan spends nothing more: PLAN_INVALID_STATE). It does not resume
   * a PAUSED plan: POST run does.
   */
  changeBudget(budget: unknown, now = new Date()): void {
    const valid = validBudget(budget);
    if (![PlanStatus.DRAFT, PlanStatus.RUNNING, PlanStatus.PAUSED].includes(this.props.status)) {
      throw PlanError.invalidState(this.id, this.status, 'change the budget of');
    }
    this.props.budget = valid;
    this.props.updatedAt = now;
  }

  /** RUNNING → PAUSED: nothing new starts; what runs finishes. Already PAUSED: the newer message is kept. */
  pause(reason: PausedReason, message: string, now = new Date()): void {
    if (this.props.status !== PlanStatus.PAUSED) this.moveTo(PlanStatus.PAUSED, 'pause', now);
    this.props.pausedReason = reason;
    this.props.pausedMessage = message;
    this.props.updatedAt = now;
  }

  /** PAUSED → RUNNING: the scheduler starts tasks again (and pauses it again if the next forecast still does not fit). */
  resume(now = new Date()): void {
    this.moveTo(PlanStatus.RUNNING, 'resume', now);
    this.clearPause();
  }

  cancel(now = new Date()): void {
    this.moveTo(PlanStatus.CANCELLED, 'cancel', now);
    this.clearPause();
    this.props.finishedAt = now;
  }

  finish(status: PlanStatus.COMPLETED | PlanStatus.FAILED, error: RunFailure | null, now = new Date()): void {
    this.moveTo(status, 'finish', now);
    this.clearPause();
    this.props.error = error;
    this.props.finishedAt = now;
  }

  private clearPause(): void {
    this.props.pausedReason = null;
    this.props.pausedMessage = null;
  }

  softDelete(now = new Date()): void {
    if (this.props.status === PlanStatus.RUNNING || this.props.status === PlanStatus.PAUSED) throw PlanError.invalidState(this.id, this.status, 'delete (cancel it first)');
    this.props.deletedAt = now;
  }

  private moveTo(to: PlanStatus, action: string, now: Date): void {
    if (!canMovePlan(this.props.status, to)) throw PlanError.invalidState(this.id, this.status, action);
    this.props.status = to;
    this.props.updatedAt = now;
  }
}

export interface PlanTaskProps extends TaskSpec {
  id: string;
  planId: string;
  /** The task's place in the plan as given (the order of the input). */
  position: number;
  status: TaskStatus;
  /** The session of the current attempt; stored before that session is started (idempotent restarts). */
  sessionId: string | null;
  sessions: TaskSessionRef[];
  /** 1: the task's own session; 2: the Debugger's retry. */
  attempt: number;
  agentId: string | null;
  result: RunResult | null;
  /** Summed over the task's finished sessions. */
  usage: TokenUsage | null;
  error: RunFailure | null;
  /** Its branch's way into the plan's integration branch; null in a shared workspace, or until its session completed. */
  merge: TaskMerge | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

const ATTACHED_STATUS: Readonly<Record<TaskSessionRef['kind'], TaskStatus>> = {
  TASK: TaskStatus.RUNNING,
  DEBUG_RETRY: TaskStatus.RETRYING,
  RESOLVER: TaskStatus.RESOLVING,
};

export class PlanTask {
  private constructor(private props: PlanTaskProps) {}

  static create(planId: string, spec: TaskSpec, position: number, now = new Date()): PlanTask {
    return new PlanTask({
      key: spec.key,
      title: spec.title,
      instructions: spec.instructions,
      role: spec.role,
      skills: [...spec.skills],
      complexity: spec.complexity,
      estimateMinutes: spec.estimateMinutes,
      dependsOn: [...spec.dependsOn],
      id: randomUUID(),
      planId,
      position,
      status: TaskStatus.PENDING,
      sessionId: null,
      sessions: [],
      attempt: 0,
      agentId: null,
      result: null,
      usage: null,
      error: null,
      merge: null,
      startedAt: null,
      finishedAt: null,
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
  }

  static restore(props: PlanTaskProps): PlanTask {
    return new PlanTask({ ...props, sessions: [...props.sessions], merge: props.merge && { ...props.merge, conflicts: [...props.merge.conflicts] } });
  }

  get id(): string {
    return this.props.id;
  }
  get key(): string {
    return this.props.key;
  }
  get status(): TaskStatus {
    return this.props.status;
  }
  get version(): number {
    return this.props.version;
  }
  get sessionId(): string | null {
    return this.props.sessionId;
  }
  get attempt(): number {
    return this.props.attempt;
  }
  get dependsOn(): string[] {
    return this.props.dependsOn;
  }
  get result(): RunResult | null {
    return this.props.result;
  }
  get merge(): TaskMerge | null {
    return this.props.merge;
  }
  /** The session of its own work (the first attempt, or the Debugger's retry): its branch is the task's. */
  get workSessionId(): string | null {
    return [...this.props.sessions].reverse().find((s) => s.kind !== 'RESOLVER')?.sessionId ?? null;
  }
  /** Resolver sessions made for its merge conflicts so far. */
  get resolverTries(): number {
    return this.props.sessions.filter((s) => s.kind === 'RESOLVER').length;
  }
  get spec(): TaskSpec {
    const { key, title, instructions, role, skills, complexity, estimateMinutes, dependsOn } = this.props;
    return { key, title, instructions, role, skills, complexity, estimateMinutes, dependsOn };
  }

  snapshot(): Readonly<PlanTaskProps> {
    return { ...this.props };
  }

  persisted(version: number): void {
    this.props.version = version;
  }

  /**
   * PENDING → RUNNING on its first session, RUNNING → RETRYING on the Debugger's, MERGING →
   * RESOLVING on a resolver (which leaves the attempt and the task's agent as they were).
   */
  attachSession(ref: TaskSessionRef, now = new Date()): void {
    this.moveTo(ATTACHED_STATUS[ref.kind], now);
    this.props.sessionId = ref.sessionId;
    this.props.sessions = [...this.props.sessions, ref];
    if (ref.kind === 'RESOLVER') return;
    this.props.attempt = ref.kind === 'TASK' ? 1 : 2;
    this.props.agentId = ref.agentId;
    this.props.startedAt ??= now;
  }

  /** The usage of a finished session that is not the final one (the failed first attempt). */
  addUsage(usage: TokenUsage | null): void {
    if (usage) this.props.usage = addUsage(this.props.usage, usage);
  }

  complete(result: RunResult | null, usage: TokenUsage | null, now = new Date()): void {
    this.moveTo(TaskStatus.COMPLETED, now);
    this.props.result = result;
    this.addUsage(usage);
    this.props.error = null;
    this.props.finishedAt = now;
  }

  end(status: TaskStatus.FAILED | TaskStatus.CONFLICTED | TaskStatus.BLOCKED | TaskStatus.CANCELLED, error: RunFailure, now = new Date()): void {
    this.moveTo(status, now);
    this.props.error = error;
    this.props.finishedAt = now;
  }

  /** Its session completed with commits on its branch: RUNNING | RETRYING → MERGING, at the back of the queue. */
  awaitMerge(result: RunResult | null, usage: TokenUsage | null, now = new Date()): void {
    this.moveTo(TaskStatus.MERGING, now);
    this.props.result = result;
    this.addUsage(usage);
    this.props.error = null;
    this.queue(this.props.sessionId!, now);
  }

  /** The merge would conflict on `files`: recorded for the resolver's prompt (the task stays MERGING). */
  conflicted(files: readonly string[]): void {
    this.props.merge = { ...this.currentMerge(), conflicts: [...files] };
  }

  /** Why its merge waits (a dirty work tree on the integration branch); the status stays MERGING. */
  mergeWaits(reason: RunFailure): void {
    this.props.error = reason;
  }

  /** The resolver's branch (integration head + the task's branch, resolved) joins the queue: RESOLVING → MERGING. */
  resolved(usage: TokenUsage | null, now = new Date()): void {
    this.moveTo(TaskStatus.MERGING, now);
    this.addUsage(usage);
    this.queue(this.props.sessionId!, now);
  }

  /**
   * The resolver did not get through: RESOLVING → MERGING with the task's own branch again, to be
   * merged again (the integration branch may have moved) and given the next resolver, or end CONFLICTED.
   */
  unresolved(usage: TokenUsage | null, reason: RunFailure, now = new Date()): void {
    this.moveTo(TaskStatus.MERGING, now);
    this.addUsage(usage);
    this.props.error = reason;
    this.queue(this.workSessionId!, now);
  }

  /** Its work is in the integration branch as `commit`: MERGING → COMPLETED. */
  merged(commit: string, now = new Date()): void {
    const merge = this.currentMerge();
    this.moveTo(TaskStatus.COMPLETED, now);
    this.props.merge = { ...merge, commit, mergedAt: now };
    this.props.error = null;
    this.props.finishedAt = now;
  }

  private queue(source: string, now: Date): void {
    this.props.merge = { source, queuedAt: now, conflicts: this.props.merge?.conflicts ?? [], commit: null, mergedAt: null };
  }

  private currentMerge(): TaskMerge {
    if (!this.props.merge) throw new PlanError(PlanErrorCode.PLAN_INVALID_STATE, `Task ${this.props.key} of plan ${this.props.planId} is not in the merge queue`, { task: this.props.key });
    return this.props.merge;
  }

  /**
   * Its session (own or the Debugger's) was stopped at the plan's budget: RUNNING | RETRYING →
   * PENDING, its usage kept and the stop recorded in `error`, so a new session (attempt 1 again, no
   * Debugger) starts once the plan resumes. The stopped session stays in `sessions`.
   */
  budgetStopped(usage: TokenUsage | null, reason: RunFailure, now = new Date()): void {
    this.moveTo(TaskStatus.PENDING, now);
    this.addUsage(usage);
    this.props.error = reason;
    this.props.sessionId = null;
    this.props.attempt = 0;
  }

  /** Keeps the partial result of a failed first attempt for the retry's context. */
  recordPartial(result: RunResult | null, error: RunFailure): void {
    if (result) this.props.result = result;
    this.props.error = error;
  }

  private moveTo(to: TaskStatus, now: Date): void {
    if (!canMoveTask(this.props.status, to)) {
      throw new PlanError(PlanErrorCode.PLAN_INVALID_STATE, `Task ${this.props.key} of plan ${this.props.planId} cannot go from ${this.props.status} to ${to}`, {
        planId: this.props.planId,
        task: this.props.key,
        from: this.props.status,
        to,
      });
    }
    this.props.status = to;
    this.props.updatedAt = now;
  }
}

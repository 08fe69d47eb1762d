import { randomUUID } from 'node:crypto';
import { addUsage, RunFailure, RunResult, TokenUsage } from '@app/shared';
import type { ComplexityAnalysis } from './complexity';
import type { PlanAnalysis } from './dag';
import { PlanError, PlanErrorCode } from './plan.errors';
import { canMovePlan, canMoveTask, PlanStatus, TaskStatus } from './plan-status';
import type { TaskRole, TaskSpec } from './task-spec';

/** One session a task ran on: its first attempt, or the Debugger's retry. */
export interface TaskSessionRef {
  sessionId: string;
  kind: 'TASK' | 'DEBUG_RETRY';
  role: TaskRole;
  agentId: string | null;
  createdAt: Date;
}

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
  status: PlanStatus;
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
};

export class Plan {
  private constructor(private props: PlanProps) {}

  static create(input: NewPlan, now = new Date()): Plan {
    return new Plan({
      ...input,
      createdByKeyId: input.createdByKeyId ?? null,
      id: randomUUID(),
      status: PlanStatus.DRAFT,
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
    return new Plan({ ...props });
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

  snapshot(): Readonly<PlanProps> {
    return { ...this.props };
  }

  persisted(version: number): void {
    this.props.version = version;
  }

  start(now = new Date()): void {
    this.moveTo(PlanStatus.RUNNING, 'run', now);
    this.props.startedAt = now;
  }

  cancel(now = new Date()): void {
    this.moveTo(PlanStatus.CANCELLED, 'cancel', now);
    this.props.finishedAt = now;
  }

  finish(status: PlanStatus.COMPLETED | PlanStatus.FAILED, error: RunFailure | null, now = new Date()): void {
    this.moveTo(status, 'finish', now);
    this.props.error = error;
    this.props.finishedAt = now;
  }

  softDelete(now = new Date()): void {
    if (this.props.status === PlanStatus.RUNNING) throw PlanError.invalidState(this.id, this.status, 'delete (cancel it first)');
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
  startedAt: Date | null;
  finishedAt: Date | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

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
      startedAt: null,
      finishedAt: null,
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
  }

  static restore(props: PlanTaskProps): PlanTask {
    return new PlanTask({ ...props, sessions: [...props.sessions] });
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

  /** PENDING → RUNNING on its first session, or RUNNING → RETRYING on the Debugger's. */
  attachSession(ref: TaskSessionRef, now = new Date()): void {
    const to = ref.kind === 'TASK' ? TaskStatus.RUNNING : TaskStatus.RETRYING;
    this.moveTo(to, now);
    this.props.sessionId = ref.sessionId;
    this.props.sessions = [...this.props.sessions, ref];
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

  end(status: TaskStatus.FAILED | TaskStatus.BLOCKED | TaskStatus.CANCELLED, error: RunFailure, now = new Date()): void {
    this.moveTo(status, now);
    this.props.error = error;
    this.props.finishedAt = now;
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

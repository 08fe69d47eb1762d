import { DomainError } from '@app/shared';

export enum TaskErrorCode {
  /** The tasks of a plan do not form a valid graph, or a task's fields are invalid. */
  PLAN_INVALID = 'PLAN_INVALID',
  /** The request to plan cannot be served: the requirement is empty or too long, or the template unknown. */
  REQUIREMENT_INVALID = 'REQUIREMENT_INVALID',
}

export type PlanProblemKind = 'CYCLE' | 'MISSING_DEPENDENCY' | 'DUPLICATE_KEY' | 'SELF_DEPENDENCY' | 'INVALID_FIELD';

export interface PlanProblem {
  kind: PlanProblemKind;
  /**
   * The keys involved. CYCLE: the cycle in order, each depending on the next and the last on the
   * first; MISSING_DEPENDENCY: the task, then the missing key; DUPLICATE_KEY: the key once;
   * SELF_DEPENDENCY and INVALID_FIELD: the task (none for a plan-level field).
   */
  tasks: string[];
  message: string;
  /** INVALID_FIELD only: the field, e.g. "estimateMinutes" or "dependsOn". */
  field?: string;
}

/** Problems kept in an error; the count goes on past it. */
export const MAX_REPORTED_PROBLEMS = 100;

export class TaskError extends DomainError<TaskErrorCode> {
  constructor(
    readonly code: TaskErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(message, details);
  }

  /** details: {problems (the first MAX_REPORTED_PROBLEMS), problemCount, truncated}. */
  static planInvalid(problems: PlanProblem[], problemCount = problems.length): TaskError {
    const first = problems[0]?.message ?? 'invalid plan';
    const more = problemCount > 1 ? ` (and ${problemCount - 1} more problem${problemCount > 2 ? 's' : ''})` : '';
    return new TaskError(TaskErrorCode.PLAN_INVALID, `Invalid plan: ${first}${more}`, {
      problems,
      problemCount,
      truncated: problemCount > problems.length,
    });
  }

  /** details: {field: 'requirement' | 'template', value?}. */
  static requirementInvalid(field: 'requirement' | 'template', message: string, value?: unknown): TaskError {
    return new TaskError(TaskErrorCode.REQUIREMENT_INVALID, `${field} ${message}`, value === undefined ? { field } : { field, value });
  }
}

/** Collects problems up to MAX_REPORTED_PROBLEMS and counts all of them. */
export class PlanProblems {
  readonly list: PlanProblem[] = [];
  count = 0;

  /** Takes a function to skip building messages once the list is full. */
  add(problem: PlanProblem | (() => PlanProblem)): void {
    this.count++;
    if (this.list.length < MAX_REPORTED_PROBLEMS) this.list.push(typeof problem === 'function' ? problem() : problem);
  }

  throwIfAny(): void {
    if (this.count > 0) throw TaskError.planInvalid(this.list, this.count);
  }
}

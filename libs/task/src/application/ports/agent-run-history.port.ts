import type { AgentRunHistory } from '../../domain/budget-forecast';
import type { TaskRole } from '../../domain/task-spec';

/** The work a task's session would be routed for (as CreateTaskSession routes it). */
export interface TaskWork {
  role: TaskRole;
  skills: string[];
  complexity: number;
}

/** What the task context reads of the agent context to forecast a task's cost. */
export interface AgentRunHistoryPort {
  /**
   * The agent routing would give the work now (like a task session's creation: a task whose
   * skills no agent of its role has goes to the best of its role) with its figures over its recent
   * runs, meanComplexity left null (the task context knows it); null when no agent is eligible.
   */
  historyFor(work: TaskWork): Promise<AgentRunHistory | null>;
}

export const AGENT_RUN_HISTORY = Symbol('AGENT_RUN_HISTORY');

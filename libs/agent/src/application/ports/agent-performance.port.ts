import { Agent } from '../../domain/agent';
import { AgentRun, PerformanceSummary } from '../../domain/performance';

/** Figures over one agent's counted runs (cancelled runs are left out), in two windows. */
export interface AgentPerformanceFigures {
  /** The last N counted runs. */
  recent: PerformanceSummary;
  allTime: PerformanceSummary;
}

/** A live agent with its figures over the last RECENT_RUNS counted runs, as routing reads them. */
export interface AgentStanding {
  agent: Agent;
  recent: PerformanceSummary;
}

export interface AgentPerformancePort {
  /**
   * Stores a finished run and updates the agent's figures in the same transaction. Idempotent by
   * (sessionId, attempt): returns false, and changes nothing, when that attempt is already recorded.
   */
  recordRun(run: AgentRun): Promise<boolean>;
  /**
   * Sets the quality score (0-10) of the latest recorded attempt of a session, e.g. from a later
   * review of its work, and updates the agent's figures in the same transaction. Setting the same
   * score again changes nothing. Returns false when the session has no recorded run.
   */
  recordQuality(sessionId: string, qualityScore: number): Promise<boolean>;
  summary(agentId: string, lastN: number): Promise<AgentPerformanceFigures>;
  /** Every live agent (enabled or not) with its recent figures, without scanning the runs. */
  routingSnapshot(): Promise<AgentStanding[]>;
  /** Agent id → its sessions QUEUED or RUNNING now (not deleted); agents without any are absent. */
  activeSessions(): Promise<Map<string, number>>;
}

export const AGENT_PERFORMANCE = Symbol('AGENT_PERFORMANCE');

/** What the session context needs from the agent context: pick an agent, and report its runs. */

export interface AgentChoiceRequest {
  /** A named agent; otherwise routing by role and skills. */
  agentId?: string;
  role?: string;
  skills: string[];
  complexity: number;
}

export interface AgentChoice {
  agentId: string;
  agentName: string;
  role: string;
  /** The OpenCode agent, model, system text and tools the agent's binding sends. */
  opencodeAgent: string;
  model: string | null;
  systemInstructions: string;
  disabledTools: string[];
  /** Read and search tools only (ARCHITECT, REVIEWER). */
  readOnly: boolean;
  /** The binding's OpenCode permission → allow | ask | deny. */
  permissions: Record<string, 'allow' | 'ask' | 'deny'>;
  /** Models used in order when the primary is at quota, failing or saturated. */
  fallbackModels: string[];
  /** Model steps one turn may take (null: TURN_MAX_STEPS). */
  maxSteps: number | null;
  /** The routing score, null when the agent was named. */
  score: number | null;
}

export interface AgentRunReport {
  agentId: string;
  sessionId: string;
  attempt: number;
  outcome: 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED';
  durationMs: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  finishedAt: Date;
  /** The final answer (a review's verdict is read from it). */
  resultText: string | null;
  /** The session this run reviewed, if it was a review. */
  reviewOf: string | null;
}

export interface AgentDirectoryPort {
  /** AGENT_NOT_FOUND, AGENT_DISABLED or NO_ELIGIBLE_AGENT (with the reasons) when none fits. */
  choose(request: AgentChoiceRequest): Promise<AgentChoice>;
  /**
   * Adds a finished run to the agent's performance figures (idempotent per session and attempt);
   * a completed review's QUALITY score is credited to the latest run of the session it reviewed.
   */
  recordRun(report: AgentRunReport): Promise<void>;
}

export const AGENT_DIRECTORY = Symbol('AGENT_DIRECTORY');

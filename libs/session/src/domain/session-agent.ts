/**
 * The orchestrator agent chosen for a session when it was created, and the binding that was
 * sent to OpenCode (a snapshot: editing the agent later does not change what this session ran).
 */
export interface SessionAgentAssignment {
  agentId: string;
  agentName: string;
  role: string;
  systemInstructions: string;
  disabledTools: string[];
  /** Why this agent: what was asked, and the routing score (null when the agent was named). */
  routing: {
    requestedRole: string | null;
    skills: string[];
    complexity: number;
    score: number | null;
  };
  /** The session whose work this one reviews; a review verdict's quality score is credited to it. */
  reviewOf: string | null;
}

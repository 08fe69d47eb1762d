/** What OpenCode does when a tool asks for a permission: run it, ask a human (an approval), or refuse it. */
export type SessionPermissionAction = 'allow' | 'ask' | 'deny';

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
  /** Read and search tools only (the agent's role is ARCHITECT or REVIEWER). */
  readOnly: boolean;
  /** The binding's OpenCode permission → action, applied after OpenCode's own rules. */
  permissions: Record<string, SessionPermissionAction>;
  /** Why this agent: what was asked, and the routing score (null when the agent was named). */
  routing: {
    requestedRole: string | null;
    skills: string[];
    complexity: number;
    score: number | null;
  };
  /** The session whose work this one reviews; a review verdict's quality score is credited to it. */
  reviewOf: string | null;
  /** Models used in order when the primary one is at quota, failing or saturated (absent on older rows: none). */
  fallbackModels?: string[];
  /** Model steps one turn may take (absent or null: TURN_MAX_STEPS). */
  maxSteps?: number | null;
}

/** What the orchestrator allows a session's turn (sent to OpenCode as the session's permission rules). */
export interface SessionTurnPolicy {
  readOnly: boolean;
  permissions: Record<string, SessionPermissionAction>;
}

/**
 * The roles that were read-only when assignments did not record `readOnly` yet: a frozen fact
 * about those rows, not the live rule (the agent context decides that for new sessions).
 */
const READ_ONLY_ROLES_OF_OLD_ROWS = ['ARCHITECT', 'REVIEWER'];

/** An assignment as stored, possibly from before readOnly and permissions were recorded. */
export type StoredSessionAgentAssignment = Omit<SessionAgentAssignment, 'readOnly' | 'permissions'> &
  Partial<Pick<SessionAgentAssignment, 'readOnly' | 'permissions'>>;

/** Fills what an old row lacks: readOnly from its role, no permissions. */
export function completeAssignment(stored: StoredSessionAgentAssignment): SessionAgentAssignment {
  return {
    ...stored,
    readOnly: stored.readOnly ?? READ_ONLY_ROLES_OF_OLD_ROWS.includes(stored.role),
    permissions: stored.permissions ?? {},
  };
}

/** A session without an orchestrator agent (a plain OpenCode agent named by the caller) writes, under the hard rules. */
export function turnPolicyOf(assignment: StoredSessionAgentAssignment | null): SessionTurnPolicy {
  if (!assignment) return { readOnly: false, permissions: {} };
  const { readOnly, permissions } = completeAssignment(assignment);
  return { readOnly, permissions: { ...permissions } };
}

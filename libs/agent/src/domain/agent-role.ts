/** The four specialists. Each maps to how OpenCode is driven (see AgentBinding). */
export enum AgentRole {
  ARCHITECT = 'ARCHITECT',
  IMPLEMENTER = 'IMPLEMENTER',
  REVIEWER = 'REVIEWER',
  DEBUGGER = 'DEBUGGER',
}

export const AGENT_ROLES = Object.values(AgentRole);

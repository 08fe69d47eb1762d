import { Agent } from '../../domain/agent';
import { AgentRole } from '../../domain/agent-role';

export interface AgentListFilter {
  role?: AgentRole;
  enabled?: boolean;
}

export interface AgentRepositoryPort {
  /** Throws AGENT_NAME_TAKEN when a live agent already has the name (case-insensitive). */
  insert(agent: Agent): Promise<void>;
  /** Deleted agents are invisible unless includeDeleted. */
  findById(id: string, options?: { includeDeleted?: boolean }): Promise<Agent | null>;
  /** Live agents matching the filter, ordered by name. */
  list(filter?: AgentListFilter): Promise<Agent[]>;
  /**
   * Writes the agent only if the stored version is still agent.version (and it is not deleted),
   * then bumps the version on the agent; otherwise throws AGENT_VERSION_CONFLICT and writes nothing.
   * Throws AGENT_NAME_TAKEN when the new name is another live agent's.
   */
  update(agent: Agent): Promise<void>;
  /** Soft delete: the row stays, hidden from every read. Returns false when no live agent has the id. */
  softDelete(id: string): Promise<boolean>;
}

export const AGENT_REPOSITORY = Symbol('AGENT_REPOSITORY');

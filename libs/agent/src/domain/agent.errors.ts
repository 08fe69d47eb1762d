import { DomainError } from '@app/shared';

export enum AgentErrorCode {
  AGENT_NOT_FOUND = 'AGENT_NOT_FOUND',
  AGENT_VERSION_CONFLICT = 'AGENT_VERSION_CONFLICT',
  AGENT_NAME_TAKEN = 'AGENT_NAME_TAKEN',
  AGENT_INVALID = 'AGENT_INVALID',
  /** No enabled, unsaturated agent has the role and skills asked for. */
  NO_ELIGIBLE_AGENT = 'NO_ELIGIBLE_AGENT',
  AGENT_DISABLED = 'AGENT_DISABLED',
}

export class AgentError extends DomainError<AgentErrorCode> {
  constructor(
    readonly code: AgentErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: { retryable?: boolean; retryAfterSeconds?: number },
  ) {
    super(message, details, options);
  }

  static notFound(id: string): AgentError {
    return new AgentError(AgentErrorCode.AGENT_NOT_FOUND, `Agent ${id} not found`, { id });
  }

  static versionConflict(id: string, expectedVersion: number): AgentError {
    return new AgentError(
      AgentErrorCode.AGENT_VERSION_CONFLICT,
      `Agent ${id} was changed by someone else (expected version ${expectedVersion}); reload and retry`,
      { id, expectedVersion },
      { retryable: true },
    );
  }

  static nameTaken(name: string): AgentError {
    return new AgentError(AgentErrorCode.AGENT_NAME_TAKEN, `An agent named "${name}" already exists`, { name });
  }

  static disabled(id: string, name: string): AgentError {
    return new AgentError(AgentErrorCode.AGENT_DISABLED, `Agent ${name} (${id}) is disabled`, { id, name });
  }

  static invalid(field: string, message: string, value?: unknown): AgentError {
    return new AgentError(AgentErrorCode.AGENT_INVALID, `${field} ${message}`, { field, value });
  }
}

// The agent context's public entry: what other code uses of it, nothing more.
export { AgentModule } from './agent.module';
export { AGENT_ENTITIES } from './infrastructure/persistence/agent-entities';
export { AgentService } from './application/agent.service';
export { AGENT_PERFORMANCE } from './application/ports/agent-performance.port';
export type { AgentPerformancePort, AgentStanding } from './application/ports/agent-performance.port';
export { Agent, MAX_FALLBACK_MODELS, MAX_STEPS_LIMIT, READ_ONLY_ROLES } from './domain/agent';
export type { AgentBinding, AgentProps, PermissionAction } from './domain/agent';
export { AgentRole, AGENT_ROLES } from './domain/agent-role';
export { AgentError, AgentErrorCode } from './domain/agent.errors';
export type { Capability } from './domain/capability';
export { DEFAULT_AGENT_IDS } from './domain/default-agents';
export { EMPTY_SUMMARY, RECENT_RUNS, tierOf } from './domain/performance';
export type { PerformanceSummary } from './domain/performance';
export { parseReviewVerdict } from './domain/review-verdict';
// Routing on its own: benchmarks measure it apart from the service.
export { rankAgents } from './domain/routing';
export type { RoutingCandidate, RoutingDecision, SkippedAgent, WorkRequest } from './domain/routing';

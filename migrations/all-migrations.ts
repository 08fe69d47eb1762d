import { CreateSessions1764000000000 } from './1764000000000-create-sessions';
import { CreateAgents1765000000000 } from './1765000000000-create-agents';
import { SessionAgentAssignment1765000000001 } from './1765000000001-session-agent-assignment';
import { CreatePlans1766000000000 } from './1766000000000-create-plans';
import { CreateApiKeys1767000000000 } from './1767000000000-create-api-keys';
import { AgentBindingPermissions1767000000001 } from './1767000000001-agent-binding-permissions';
import { CreateApprovals1767000000002 } from './1767000000002-create-approvals';
import { SessionOrigin1768000000000 } from './1768000000000-session-origin';
import { SessionWorktree1769000000000 } from './1769000000000-session-worktree';
import { PlanIntegration1769000000001 } from './1769000000001-plan-integration';
import { SessionOpencodeServer1769000000002 } from './1769000000002-session-opencode-server';
import { Spending1770000000000 } from './1770000000000-spending';
import { AgentKeyBudgets1770000000001 } from './1770000000001-agent-key-budgets';
import { PlanBudget1770000000002 } from './1770000000002-plan-budget';
import { SessionBudget1770000000003 } from './1770000000003-session-budget';
import { Retention1771000000000 } from './1771000000000-retention';
import { SessionWaitingSince1771000000100 } from './1771000000100-session-waiting-since';

/** Every migration, oldest first; a new one is appended at the end (its timestamp is the newest). */
export const MIGRATIONS = [
  CreateSessions1764000000000,
  CreateAgents1765000000000,
  SessionAgentAssignment1765000000001,
  CreatePlans1766000000000,
  CreateApiKeys1767000000000,
  AgentBindingPermissions1767000000001,
  CreateApprovals1767000000002,
  SessionOrigin1768000000000,
  SessionWorktree1769000000000,
  PlanIntegration1769000000001,
  SessionOpencodeServer1769000000002,
  Spending1770000000000,
  AgentKeyBudgets1770000000001,
  PlanBudget1770000000002,
  SessionBudget1770000000003,
  Retention1771000000000,
  SessionWaitingSince1771000000100,
];

import { randomUUID } from 'node:crypto';
import { Budget, budgetProblem, normaliseBudget } from '@app/shared';
import { AgentRole, AGENT_ROLES } from './agent-role';
import { AgentError } from './agent.errors';
import { Capability, normaliseCapabilities } from './capability';

/** What OpenCode does when a tool asks for a permission: run it, ask a human (an approval), or refuse it. */
export type PermissionAction = 'allow' | 'ask' | 'deny';
export const PERMISSION_ACTIONS: readonly PermissionAction[] = ['allow', 'ask', 'deny'];

/** How OpenCode is driven for this agent. */
export interface AgentBinding {
  /** The OpenCode agent the prompt is sent to (e.g. build, plan). */
  opencodeAgent: string;
  /** "provider/model", or null for the server's default. */
  model: string | null;
  /** Extra system instructions sent with every prompt. */
  systemInstructions: string;
  /** OpenCode tools switched off for this agent's turns. */
  disabledTools: string[];
  /**
   * OpenCode permission (edit, bash, webfetch, task, read, ...) → action, applied to every session
   * of the agent after OpenCode's own rules (so a workspace cannot loosen them). For read-only
   * roles only what tightens takes effect (a deny, or an ask on a read tool).
   */
  permissions: Readonly<Record<string, PermissionAction>>;
  /**
   * "provider/model"s tried in this order when the primary model is at quota, failing or
   * saturated: at most MAX_FALLBACK_MODELS, distinct, none equal to `model`.
   */
  fallbackModels: string[];
  /** Model steps one turn of this agent may take; null: the default (TURN_MAX_STEPS). */
  maxSteps: number | null;
}

export interface AgentProps {
  id: string;
  name: string;
  role: AgentRole;
  capabilities: Capability[];
  maxConcurrentSessions: number;
  enabled: boolean;
  binding: AgentBinding;
  /** What the agent may spend per UTC day over all its sessions; null: no limit. Stored normalised. */
  budget: Budget | null;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * What Agent.create needs; a binding without permissions has none ({}), without fallbackModels
 * none ([]), without maxSteps the default (null); no budget is no limit.
 */
export type NewAgent = Omit<AgentProps, 'id' | 'version' | 'createdAt' | 'updatedAt' | 'enabled' | 'binding' | 'budget'> & {
  enabled?: boolean;
  id?: string;
  binding: Omit<AgentBinding, OptionalBindingField> & Partial<Pick<AgentBinding, OptionalBindingField>>;
  budget?: Budget | null;
};
type OptionalBindingField = 'permissions' | 'fallbackModels' | 'maxSteps';

/** Absent (undefined) fields stay as they are; `budget: null` removes the budget. */
export type AgentChanges = Partial<Pick<AgentProps, 'name' | 'role' | 'capabilities' | 'maxConcurrentSessions' | 'enabled' | 'budget'>> & {
  binding?: Partial<AgentBinding>;
};

/**
 * The tools that change files (or can: bash, subagents). Roles that must not write files
 * (Architect, Reviewer) always have them switched off, whatever their binding says.
 */
export const WRITING_TOOLS = ['write', 'edit', 'patch', 'multiedit', 'bash', 'task'] as const;
export const READ_ONLY_ROLES: readonly AgentRole[] = [AgentRole.ARCHITECT, AgentRole.REVIEWER];

export const MODEL_PATTERN = /^[^/\s]+\/\S+$/;
export const TOOL_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;
/** An OpenCode permission name: a lowercase identifier (edit, bash, external_directory, ...). */
export const PERMISSION_NAME_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;
export const MAX_PERMISSIONS = 64;
/**
 * Permissions the orchestrator always denies, whatever a binding says (the session's last rules):
 * external_directory (nothing outside the session's workspace) and question (no human to answer).
 * A binding may only repeat the deny.
 */
export const ORCHESTRATOR_DENIED_PERMISSIONS: readonly string[] = ['external_directory', 'question'];
export const MAX_CONCURRENT_LIMIT = 1000;
export const MAX_FALLBACK_MODELS = 5;
export const MAX_MODEL_LENGTH = 200;
export const MAX_STEPS_LIMIT = 100_000;

export class Agent {
  private constructor(private props: AgentProps) {}

  static create(input: NewAgent, now = new Date()): Agent {
    const agent = new Agent({
      id: input.id ?? randomUUID(),
      name: '',
      role: AgentRole.IMPLEMENTER,
      capabilities: [],
      maxConcurrentSessions: 1,
      enabled: true,
      binding: { opencodeAgent: 'build', model: null, systemInstructions: '', disabledTools: [], permissions: {}, fallbackModels: [], maxSteps: null },
      budget: null,
      version: 1,
      createdAt: now,
      updatedAt: now,
    });
    agent.apply({ ...input, enabled: input.enabled ?? true }, now);
    return agent;
  }

  static restore(props: AgentProps): Agent {
    return new Agent({ ...props, capabilities: [...props.capabilities], binding: copyBinding(props.binding), budget: copyBudget(props.budget) });
  }

  get id(): string {
    return this.props.id;
  }
  get name(): string {
    return this.props.name;
  }
  get role(): AgentRole {
    return this.props.role;
  }
  get enabled(): boolean {
    return this.props.enabled;
  }
  get version(): number {
    return this.props.version;
  }
  get maxConcurrentSessions(): number {
    return this.props.maxConcurrentSessions;
  }
  get capabilities(): readonly Capability[] {
    return this.props.capabilities;
  }
  get binding(): Readonly<AgentBinding> {
    return this.props.binding;
  }
  /** The daily budget (UTC day, every session of the agent); null: no limit. */
  get budget(): Readonly<Budget> | null {
    return this.props.budget;
  }
  /** ARCHITECT and REVIEWER: read and search tools only, whatever the binding's OpenCode agent. */
  get readOnly(): boolean {
    return READ_ONLY_ROLES.includes(this.props.role);
  }

  /** The level of a skill, 0 when the agent does not have it. */
  levelOf(skill: string): number {
    return this.props.capabilities.find((c) => c.skill === skill)?.level ?? 0;
  }

  snapshot(): Readonly<AgentProps> {
    return { ...this.props, capabilities: [...this.props.capabilities], binding: copyBinding(this.props.binding), budget: copyBudget(this.props.budget) };
  }

  /** Changes any editable field; every invariant is checked before anything changes. */
  update(changes: AgentChanges, now = new Date()): void {
    this.apply(changes, now);
  }

  /** Called by the repository after a successful version-checked write. */
  persisted(version: number, updatedAt?: Date): void {
    this.props.version = version;
    if (updatedAt) this.props.updatedAt = updatedAt;
  }

  private apply(changes: AgentChanges, now: Date): void {
    // An explicit undefined (e.g. an absent DTO field) means "unchanged", never "clear".
    const binding = Object.fromEntries(Object.entries(changes.binding ?? {}).filter(([, v]) => v !== undefined));
    const next: AgentProps = { ...this.props, binding: { ...this.props.binding, ...binding } };
    if (changes.name !== undefined) next.name = changes.name.trim();
    if (changes.role !== undefined) next.role = changes.role;
    if (changes.capabilities !== undefined) next.capabilities = normaliseCapabilities(changes.capabilities);
    if (changes.maxConcurrentSessions !== undefined) next.maxConcurrentSessions = changes.maxConcurrentSessions;
    if (changes.enabled !== undefined) next.enabled = changes.enabled;
    if (changes.budget !== undefined) {
      const problem = budgetProblem(changes.budget);
      if (problem) throw AgentError.invalid(problem.field, problem.message, changes.budget);
      next.budget = normaliseBudget(changes.budget);
    }
    validate(next);
    // Leaving a read-only role gives the writing tools back, unless the change names the tools itself.
    const leavesReadOnly = READ_ONLY_ROLES.includes(this.props.role) && !READ_ONLY_ROLES.includes(next.role);
    if (leavesReadOnly && changes.binding?.disabledTools === undefined) {
      next.binding.disabledTools = next.binding.disabledTools.filter((t) => !(WRITING_TOOLS as readonly string[]).includes(t));
    }
    next.binding.disabledTools = disabledToolsFor(next.role, next.binding.disabledTools);
    next.binding.permissions = sortedByName(next.binding.permissions);
    next.updatedAt = now;
    this.props = next;
  }
}

function validate(p: AgentProps): void {
  if (!p.name || p.name.length > 100) throw AgentError.invalid('name', 'must be 1 to 100 characters', p.name);
  if (!AGENT_ROLES.includes(p.role)) throw AgentError.invalid('role', `must be one of ${AGENT_ROLES.join(', ')}`, p.role);
  if (!Number.isInteger(p.maxConcurrentSessions) || p.maxConcurrentSessions < 1 || p.maxConcurrentSessions > MAX_CONCURRENT_LIMIT) {
    throw AgentError.invalid('maxConcurrentSessions', `must be an integer from 1 to ${MAX_CONCURRENT_LIMIT}`, p.maxConcurrentSessions);
  }
  const b = p.binding;
  if (!b.opencodeAgent || !TOOL_PATTERN.test(b.opencodeAgent)) {
    throw AgentError.invalid('binding.opencodeAgent', 'must be an OpenCode agent name (e.g. build, plan)', b.opencodeAgent);
  }
  if (b.model !== null && !MODEL_PATTERN.test(b.model)) throw AgentError.invalid('binding.model', 'must be "provider/model"', b.model);
  if (b.systemInstructions.length > 20_000) throw AgentError.invalid('binding.systemInstructions', 'must be at most 20000 characters');
  b.disabledTools.forEach((t, i) => {
    if (!TOOL_PATTERN.test(t)) throw AgentError.invalid(`binding.disabledTools[${i}]`, `"${t}" is not a tool name`, t);
  });
  validatePermissions(b.permissions);
  validateFallbackModels(b.fallbackModels, b.model);
  if (b.maxSteps !== null && !(Number.isInteger(b.maxSteps) && b.maxSteps >= 1 && b.maxSteps <= MAX_STEPS_LIMIT)) {
    throw AgentError.invalid('binding.maxSteps', `must be an integer from 1 to ${MAX_STEPS_LIMIT}, or null for the default (TURN_MAX_STEPS)`, b.maxSteps);
  }
}

function validateFallbackModels(models: unknown, primary: string | null): void {
  if (!Array.isArray(models)) throw AgentError.invalid('binding.fallbackModels', 'must be a list of "provider/model"', models);
  if (models.length > MAX_FALLBACK_MODELS) throw AgentError.invalid('binding.fallbackModels', `must have at most ${MAX_FALLBACK_MODELS} models`);
  models.forEach((m: unknown, i) => {
    const field = `binding.fallbackModels[${i}]`;
    if (typeof m !== 'string' || m.length > MAX_MODEL_LENGTH || !MODEL_PATTERN.test(m)) throw AgentError.invalid(field, 'must be "provider/model"', m);
    if (m === primary) throw AgentError.invalid(field, `is the binding's model (${m}); a fallback must be another model`, m);
    if (models.indexOf(m) !== i) throw AgentError.invalid(field, `repeats ${m}; each fallback model may appear once`, m);
  });
}

function validatePermissions(permissions: unknown): void {
  if (typeof permissions !== 'object' || permissions === null || Array.isArray(permissions)) {
    throw AgentError.invalid('binding.permissions', 'must be an object of OpenCode permission name → allow, ask or deny', permissions);
  }
  const entries = Object.entries(permissions);
  if (entries.length > MAX_PERMISSIONS) throw AgentError.invalid('binding.permissions', `must have at most ${MAX_PERMISSIONS} entries`);
  for (const [name, action] of entries) {
    const field = `binding.permissions.${name}`;
    if (!PERMISSION_NAME_PATTERN.test(name)) {
      throw AgentError.invalid('binding.permissions', `has "${name}", which is not an OpenCode permission name (a lowercase identifier, e.g. bash)`, name);
    }
    if (!PERMISSION_ACTIONS.includes(action as PermissionAction)) throw AgentError.invalid(field, 'must be allow, ask or deny', action);
    if (ORCHESTRATOR_DENIED_PERMISSIONS.includes(name) && action !== 'deny') {
      throw AgentError.invalid(field, 'is always denied by the orchestrator, whatever a binding says; only "deny" may be given', action);
    }
  }
}

function sortedByName(permissions: Readonly<Record<string, PermissionAction>>): Record<string, PermissionAction> {
  return Object.fromEntries(Object.entries(permissions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function copyBinding(binding: AgentBinding): AgentBinding {
  return { ...binding, disabledTools: [...binding.disabledTools], permissions: { ...binding.permissions }, fallbackModels: [...binding.fallbackModels] };
}

function copyBudget(budget: Budget | null): Budget | null {
  return budget ? { ...budget } : null;
}

function disabledToolsFor(role: AgentRole, requested: readonly string[]): string[] {
  const tools = new Set(requested);
  if (READ_ONLY_ROLES.includes(role)) WRITING_TOOLS.forEach((t) => tools.add(t));
  return [...tools].sort();
}

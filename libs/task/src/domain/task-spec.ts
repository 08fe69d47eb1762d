/**
 * The roles a task can ask for. The same values as AgentRole in @app/agent, redeclared here so
 * that this domain stays plain TypeScript: @app/agent's index also exports its Nest module, and
 * other contexts may only import a context through its index.
 */
export type TaskRole = 'ARCHITECT' | 'IMPLEMENTER' | 'REVIEWER' | 'DEBUGGER';

export const TASK_ROLES: readonly TaskRole[] = ['ARCHITECT', 'IMPLEMENTER', 'REVIEWER', 'DEBUGGER'];

/** One task of a plan: what an agent of `role` is asked to do, and what must be done first. */
export interface TaskSpec {
  /** Unique within its plan; what `dependsOn` refers to. */
  key: string;
  title: string;
  /** The prompt an agent acts on. */
  instructions: string;
  role: TaskRole;
  /** Skill tags, as in agent capabilities (routing matches them). */
  skills: string[];
  /** 1 (trivial) to 10 (hardest); routing maps it to the skill level needed. */
  complexity: number;
  estimateMinutes: number;
  /** Keys of the tasks that must finish before this one starts. */
  dependsOn: string[];
}

export const TASK_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** The same tag rule as agent capabilities (capability.ts in @app/agent). */
export const TASK_SKILL_PATTERN = /^[a-z0-9][a-z0-9+#._-]{0,39}$/;
export const MAX_TITLE_LENGTH = 200;
export const MAX_INSTRUCTIONS_LENGTH = 20_000;
export const MAX_SKILLS = 20;
export const MIN_COMPLEXITY = 1;
export const MAX_COMPLEXITY = 10;
/** An estimate is a whole number of minutes, at most a (working) quarter. */
export const MAX_ESTIMATE_MINUTES = 30_000;

export function isTaskRole(value: unknown): value is TaskRole {
  return typeof value === 'string' && (TASK_ROLES as readonly string[]).includes(value);
}

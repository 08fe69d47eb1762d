import { AgentError } from './agent.errors';

/** A skill tag with a level: 1 (can follow examples) to 5 (expert). */
export interface Capability {
  skill: string;
  level: number;
}

export const SKILL_PATTERN = /^[a-z0-9][a-z0-9+#._-]{0,39}$/;
export const MIN_LEVEL = 1;
export const MAX_LEVEL = 5;

export function assertSkill(skill: string, field = 'skill'): void {
  if (!SKILL_PATTERN.test(skill)) {
    throw AgentError.invalid(field, `"${skill}" is not a skill tag (lowercase letters, digits and + # . _ -, at most 40)`, skill);
  }
}

/** Checks and normalises capabilities: valid tags, levels 1-5, each skill once. */
export function normaliseCapabilities(capabilities: readonly Capability[]): Capability[] {
  const seen = new Set<string>();
  return capabilities.map((c, i) => {
    assertSkill(c.skill, `capabilities[${i}].skill`);
    if (!Number.isInteger(c.level) || c.level < MIN_LEVEL || c.level > MAX_LEVEL) {
      throw AgentError.invalid(`capabilities[${i}].level`, `must be an integer from ${MIN_LEVEL} to ${MAX_LEVEL}`, c.level);
    }
    if (seen.has(c.skill)) throw AgentError.invalid(`capabilities[${i}].skill`, `"${c.skill}" is listed twice`, c.skill);
    seen.add(c.skill);
    return { skill: c.skill, level: c.level };
  });
}

import type { TaskSpec } from '../domain/task-spec';

/** A plain IMPLEMENTER task `key` (title "do <key>", complexity 3, 10 minutes) after `dependsOn`; `extra` overrides. */
export function taskSpec(key: string, dependsOn: string[] = [], extra: Partial<TaskSpec> = {}): TaskSpec {
  return {
    key,
    title: `do ${key}`,
    instructions: `instructions of ${key}`,
    role: 'IMPLEMENTER',
    skills: ['typescript'],
    complexity: 3,
    estimateMinutes: 10,
    dependsOn,
    ...extra,
  };
}

import { RequirementFacts } from './requirement';
import { MAX_COMPLEXITY, MAX_SKILLS, MIN_COMPLEXITY, TaskRole, TaskSpec } from './task-spec';

/** The kinds of work a template asks for; each has a base estimate at complexity 1. */
export type TaskKind = 'design' | 'api' | 'data' | 'implement' | 'small-change' | 'test' | 'review' | 'threat-model' | 'diagnose' | 'ops';

const BASE_MINUTES: Record<TaskKind, number> = {
  design: 30,
  api: 25,
  data: 20,
  implement: 40,
  'small-change': 10,
  test: 25,
  review: 20,
  'threat-model': 30,
  diagnose: 30,
  ops: 20,
};

/** Minutes at a complexity: the base at 1, three times the base at 10, in steps of 5. */
function estimateMinutes(kind: TaskKind, complexity: number): number {
  const raw = BASE_MINUTES[kind] * (1 + ((complexity - 1) * 2) / 9);
  return Math.max(5, Math.round(raw / 5) * 5);
}

export interface TaskDraft {
  key: string;
  title: string;
  role: TaskRole;
  kind: TaskKind;
  skills: string[];
  /** Added to the requirement's score for this task (a design is harder than its tests). */
  complexityDelta?: number;
  dependsOn?: string[];
  /** Steps, deliverables and checks: the body of the prompt. */
  steps: string[];
  produce: string[];
  verify: string[];
}

const LANGUAGES = new Set(['typescript', 'javascript', 'python', 'go', 'java', 'kotlin', 'rust', 'ruby', 'php', 'c#']);

/** Turns drafts into tasks: complexity from the requirement's score, estimates, and prompts that name the requirement. */
export class PlanBuilder {
  private readonly tasks: TaskSpec[] = [];
  private readonly titles = new Map<string, string>();

  constructor(
    readonly facts: RequirementFacts,
    readonly score: number,
  ) {}

  /** The language named in the requirement, else TypeScript (the default agents' language). */
  get language(): string {
    return this.facts.technologies.find((t) => LANGUAGES.has(t)) ?? 'typescript';
  }

  /** Technologies named besides the language: frameworks, stores, platforms. */
  get stack(): string[] {
    return this.facts.technologies.filter((t) => !LANGUAGES.has(t));
  }

  add(draft: TaskDraft): string {
    const complexity = Math.min(MAX_COMPLEXITY, Math.max(MIN_COMPLEXITY, this.score + (draft.complexityDelta ?? 0)));
    const dependsOn = [...new Set(draft.dependsOn ?? [])];
    this.titles.set(draft.key, draft.title);
    this.tasks.push({
      key: draft.key,
      title: draft.title,
      instructions: this.instructions(draft, dependsOn),
      role: draft.role,
      skills: [...new Set(draft.skills)].slice(0, MAX_SKILLS),
      complexity,
      estimateMinutes: estimateMinutes(draft.kind, complexity),
      dependsOn,
    });
    return draft.key;
  }

  build(): TaskSpec[] {
    return this.tasks;
  }

  private instructions(draft: TaskDraft, dependsOn: string[]): string {
    const list = (items: string[]) => items.map((item) => `- ${item}`);
    return [
      `Requirement: "${this.facts.text.trim()}"`,
      `Your task (${draft.key}): ${draft.title}.`,
      ...(dependsOn.length > 0
        ? ['Read the results of the tasks this one builds on first:', ...list(dependsOn.map((k) => `${k}: ${this.titles.get(k) ?? k}`))]
        : []),
      'Steps:',
      ...list(draft.steps),
      'Produce:',
      ...list(draft.produce),
      'Verify before you finish:',
      ...list(draft.verify),
    ].join('\n');
  }
}

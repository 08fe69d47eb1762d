import { ComplexityAnalysis, complexityOf } from './complexity';
import { validatePlan } from './dag';
import { PlanBuilder } from './plan-builder';
import { readRequirement, RequirementFacts } from './requirement';
import { TaskError } from './task.errors';
import { TaskSpec } from './task-spec';
import { crudPlan, genericPlan, microservicePlan, securityPlan, genericShape, TEMPLATE_NAMES, TemplateName } from './templates';

export type PlanTemplate = TemplateName | 'GENERIC';

export interface Decomposition {
  template: PlanTemplate;
  chosenBecause: string;
  complexity: ComplexityAnalysis;
  tasks: TaskSpec[];
}

export const MAX_REQUIREMENT_LENGTH = 10_000;
/** A template is chosen from the text when it scores at least this. */
const MIN_TEMPLATE_SCORE = 2;

const BUILDERS: Record<PlanTemplate, (plan: PlanBuilder) => void> = {
  MICROSERVICE: microservicePlan,
  CRUD: crudPlan,
  SECURITY: securityPlan,
  GENERIC: genericPlan,
};

/**
 * A requirement → a plan: its complexity, a template (the one asked for, else the best match
 * from the text, else a generic graph) and the template's tasks, parameterised by the entities,
 * components and integrations the text names. Deterministic; the tasks always pass validatePlan.
 */
export function decompose(requirement: string, options: { template?: TemplateName } = {}): Decomposition {
  if (typeof requirement !== 'string' || requirement.trim() === '') throw TaskError.requirementInvalid('requirement', 'must not be empty');
  if (requirement.length > MAX_REQUIREMENT_LENGTH) {
    throw TaskError.requirementInvalid('requirement', `must be at most ${MAX_REQUIREMENT_LENGTH} characters (got ${requirement.length})`);
  }
  if (options.template !== undefined && !TEMPLATE_NAMES.includes(options.template)) {
    throw TaskError.requirementInvalid('template', `must be one of ${TEMPLATE_NAMES.join(', ')}`, options.template);
  }
  const facts = readRequirement(requirement);
  const complexity = complexityOf(facts);
  const choice = options.template ? { template: options.template, because: `the ${options.template} template was asked for` } : chooseTemplate(facts, complexity.score);

  const plan = new PlanBuilder(facts, complexity.score);
  BUILDERS[choice.template](plan);
  const tasks = plan.build();
  validatePlan(tasks);
  return { template: choice.template, chosenBecause: choice.because, complexity, tasks };
}

interface TemplateScore {
  template: TemplateName;
  score: number;
  reasons: string[];
}

/** How well each template fits the text, with what counted. */
function scoreTemplates(facts: RequirementFacts): TemplateScore[] {
  const lower = facts.text.toLowerCase();
  const termsOf = (name: string) => facts.domains.find((d) => d.name === name)?.terms ?? [];

  const security = [...termsOf('auth'), ...termsOf('security')];

  const crud: string[] = [];
  let crudScore = 0;
  if (/\bcrud\b/.test(lower)) {
    crudScore += 3;
    crud.push('says CRUD');
  }
  const verbs = ['create', 'read', 'update', 'delete', 'edit', 'list', 'manage', 'admin'].filter((v) => new RegExp(`\\b${v}\\b`).test(lower));
  if (verbs.length >= 2) {
    crudScore += Math.min(2, verbs.length - 1);
    crud.push(`data verbs ${verbs.join(', ')}`);
  }
  if (facts.entities.length > 0 && crudScore > 0) {
    crudScore += 1;
    crud.push(`entities ${facts.entities.join(', ')}`);
  }

  const service: string[] = [];
  let serviceScore = 0;
  if (/\bmicro-?services?\b/.test(lower)) {
    serviceScore += 3;
    service.push('says microservice');
  }
  if (/\b(?:new|separate|standalone|dedicated)\s+(?:[a-z-]+\s+)?service\b/.test(lower)) {
    serviceScore += 3;
    service.push('asks for a new service');
  }
  const infra = termsOf('infrastructure').filter((t) => t !== 'microservice');
  if (infra.length > 0) {
    serviceScore += infra.length;
    service.push(`infrastructure words ${infra.join(', ')}`);
  }
  if (serviceScore > 0 && termsOf('concurrency').length > 0) {
    serviceScore += 1;
    service.push(`asynchronous work (${termsOf('concurrency').join(', ')})`);
  }
  if (serviceScore > 0 && facts.integrations.length >= 2) {
    serviceScore += 1;
    service.push(`integrations ${facts.integrations.join(', ')}`);
  }

  return [
    { template: 'SECURITY', score: security.length, reasons: security.length > 0 ? [`security words ${security.join(', ')}`] : [] },
    { template: 'CRUD', score: crudScore, reasons: crud },
    { template: 'MICROSERVICE', score: serviceScore, reasons: service },
  ];
}

/** The highest score wins (ties in the order SECURITY, CRUD, MICROSERVICE); below MIN_TEMPLATE_SCORE, GENERIC. */
function chooseTemplate(facts: RequirementFacts, complexity: number): { template: PlanTemplate; because: string } {
  const scores = scoreTemplates(facts);
  const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
  const others = scores
    .filter((s) => s !== best)
    .map((s) => `${s.template} ${s.score}`)
    .join(', ');
  if (best.score < MIN_TEMPLATE_SCORE) {
    const kind = {
      SMALL_CHANGE: () => `a small change (${facts.simplicityTerms.join(', ')}): change, review`,
      BUG_FIX: () => `a bug fix (${facts.bugTerms.join(', ')}): reproduce, fix, review`,
      FEATURE: () => 'design, implement, test, review',
    }[genericShape(facts, complexity)]();
    return {
      template: 'GENERIC',
      because: `no template scored ${MIN_TEMPLATE_SCORE} or more (${scores.map((s) => `${s.template} ${s.score}`).join(', ')}); a generic plan for ${kind}`,
    };
  }
  return { template: best.template, because: `${best.template} scored ${best.score} (${best.reasons.join('; ')}) against ${others}` };
}

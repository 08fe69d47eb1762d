import { DomainName, readRequirement, RequirementFacts } from './requirement';

export interface ComplexitySignal {
  name: string;
  /** What the signal adds to the score (negative for signs of a small change). */
  weight: number;
  detail: string;
}

export interface ComplexityAnalysis {
  /** 1 to 10: the sum of the signals' weights, rounded and kept within 1-10. */
  score: number;
  signals: ComplexitySignal[];
}

/** Each domain named adds its weight once, however many of its words appear. */
const DOMAIN_WEIGHTS: Record<DomainName, number> = {
  auth: 1.5,
  payments: 1.5,
  concurrency: 1.5,
  database: 1,
  infrastructure: 1,
  security: 1,
  ui: 0.5,
};

/** Weight per item found, and the most a kind of item can add. */
const COUNT_WEIGHTS = {
  entities: { each: 0.5, max: 2 },
  endpoints: { each: 0.25, max: 1.5 },
  integrations: { each: 0.75, max: 2.25 },
  risk: { each: 0.5, max: 2 },
  vagueness: { each: 0.5, max: 1.5 },
  simplicity: { each: -0.5, max: -1.5 },
} as const;

/** Words in the text → weight: more text, more to do. */
const SIZE_STEPS: readonly { upTo: number; weight: number }[] = [
  { upTo: 12, weight: 0 },
  { upTo: 40, weight: 0.5 },
  { upTo: 100, weight: 1 },
  { upTo: 250, weight: 1.5 },
  { upTo: 600, weight: 2 },
  { upTo: Infinity, weight: 2.5 },
];

const BASE_WEIGHT = 1;

/**
 * Heuristic complexity of a requirement, explained: every signal that contributed, with its
 * weight and what it found. Same text, same answer.
 */
export function analyseComplexity(text: string): ComplexityAnalysis {
  return complexityOf(readRequirement(text));
}

export function complexityOf(facts: RequirementFacts): ComplexityAnalysis {
  const signals: ComplexitySignal[] = [{ name: 'base', weight: BASE_WEIGHT, detail: 'every requirement starts at 1' }];
  const size = SIZE_STEPS.find((s) => facts.words <= s.upTo)!;
  signals.push({ name: 'size', weight: size.weight, detail: `${facts.words} word${facts.words === 1 ? '' : 's'}` });

  for (const domain of facts.domains) {
    signals.push({ name: `domain:${domain.name}`, weight: DOMAIN_WEIGHTS[domain.name], detail: `names ${domain.name}: ${domain.terms.join(', ')}` });
  }
  const counted = (name: keyof typeof COUNT_WEIGHTS, items: string[], one: string, many: string) => {
    if (items.length === 0) return;
    const { each, max } = COUNT_WEIGHTS[name];
    const weight = each < 0 ? Math.max(max, each * items.length) : Math.min(max, each * items.length);
    signals.push({ name, weight, detail: `${items.length} ${items.length === 1 ? one : many}: ${items.join(', ')}` });
  };
  counted('entities', facts.entities, 'entity', 'entities');
  counted('endpoints', facts.endpoints, 'endpoint', 'endpoints');
  counted('integrations', facts.integrations, 'integration', 'integrations');
  counted('risk', facts.riskTerms, 'risk word', 'risk words');
  counted('vagueness', facts.vagueTerms, 'vague word (an open question to settle)', 'vague words (open questions to settle)');
  counted('simplicity', facts.simplicityTerms, 'word of a small change', 'words of a small change');

  const sum = signals.reduce((total, s) => total + s.weight, 0);
  return { score: Math.min(10, Math.max(1, Math.round(sum))), signals };
}

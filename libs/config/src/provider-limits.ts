/**
 * PROVIDER_LIMITS: what each model provider (or model) may be sent at once and per minute, held
 * across every worker. Format: rules separated by `;`, each `pattern=limit:value,...`:
 *
 *   anthropic/*=concurrency:8,rpm:50;openai/gpt-5=concurrency:4,tpm:400000
 *
 * pattern: `provider/*` (every model of the provider, one shared bucket), `provider/model`, or `*`
 * (every model, one shared bucket). Limits: concurrency (turns running at once), rpm (model
 * requests, i.e. steps, per minute), tpm (tokens per minute). Every rule that matches a model
 * applies, so a provider-wide rule and a model's own rule both hold.
 */
export type ProviderLimitName = 'concurrency' | 'rpm' | 'tpm';
export const PROVIDER_LIMIT_NAMES: readonly ProviderLimitName[] = ['concurrency', 'rpm', 'tpm'];

export interface ProviderLimitRule {
  /** As written: `provider/*`, `provider/model` or `*`. */
  pattern: string;
  concurrency?: number;
  rpm?: number;
  tpm?: number;
}

const PATTERN = /^(\*|[^/\s=;,:*]+\/\*|[^/\s=;,:*]+\/[^\s=;,:*]+)$/;
const MAX_LIMIT = 100_000_000;

/** Parses PROVIDER_LIMITS; throws an Error whose message names the bad part. Empty: no limits. */
export function parseProviderLimits(text: string | undefined): ProviderLimitRule[] {
  if (!text || !text.trim()) return [];
  const rules: ProviderLimitRule[] = [];
  for (const raw of text.split(';')) {
    const entry = raw.trim();
    if (!entry) continue;
    const eq = entry.indexOf('=');
    if (eq < 0) throw new Error(`"${entry}" is not pattern=limit:value (e.g. anthropic/*=concurrency:8,rpm:50)`);
    const pattern = entry.slice(0, eq).trim();
    if (!PATTERN.test(pattern)) throw new Error(`"${pattern}" is not a model pattern (provider/model, provider/* or *)`);
    if (rules.some((r) => r.pattern === pattern)) throw new Error(`"${pattern}" is given twice`);
    const rule: ProviderLimitRule = { pattern };
    for (const part of entry.slice(eq + 1).split(',')) {
      const [name, value, extra] = part.split(':').map((s) => s.trim());
      if (!PROVIDER_LIMIT_NAMES.includes(name as ProviderLimitName) || extra !== undefined) {
        throw new Error(`"${part.trim()}" in ${pattern} is not one of concurrency:N, rpm:N, tpm:N`);
      }
      const n = Number(value);
      if (!/^\d+$/.test(value ?? '') || n < 1 || n > MAX_LIMIT) throw new Error(`${name} of ${pattern} must be an integer from 1 to ${MAX_LIMIT}`);
      if (rule[name as ProviderLimitName] !== undefined) throw new Error(`${name} is given twice for ${pattern}`);
      rule[name as ProviderLimitName] = n;
    }
    rules.push(rule);
  }
  return rules;
}

/** Whether a rule's pattern covers a "provider/model". */
export function ruleMatches(pattern: string, model: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('/*')) return model.startsWith(pattern.slice(0, -1));
  return pattern === model;
}

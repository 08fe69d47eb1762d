/**
 * What a requirement's text names, found with word lists and a few patterns: the same text
 * always gives the same facts, in the order they first appear in it.
 */
export interface RequirementFacts {
  text: string;
  words: number;
  /** Domains named, each with the words that named it. */
  domains: { name: DomainName; terms: string[] }[];
  /** Entities (singular, lower-case, key-safe), from an explicit list ("CRUD for a, b and c") or known nouns. */
  entities: string[];
  /** Named parts: "the billing service" → billing. */
  components: string[];
  endpoints: string[];
  integrations: string[];
  riskTerms: string[];
  vagueTerms: string[];
  simplicityTerms: string[];
  /** Skill tags for the technologies named (languages, frameworks, stores). */
  technologies: string[];
  bugTerms: string[];
}

export type DomainName = 'auth' | 'payments' | 'database' | 'concurrency' | 'ui' | 'infrastructure' | 'security';

const DOMAIN_TERMS: Record<DomainName, readonly string[]> = {
  auth: [
    'auth', 'authentication', 'authorization', 'authorisation', 'login', 'log in', 'logout', 'sign in', 'sign-in', 'signup', 'sign up',
    'sign-up', 'oauth', 'oauth2', 'openid', 'oidc', 'sso', 'saml', 'jwt', 'password', '2fa', 'mfa', 'permission', 'rbac', 'role-based',
    'access control', 'identity',
  ],
  payments: [
    'payment', 'billing', 'invoice', 'checkout', 'refund', 'subscription', 'stripe', 'paypal', 'credit card', 'pricing', 'tax', 'ledger',
    'payout', 'charge',
  ],
  database: [
    'database', 'db', 'migration', 'schema', 'sql', 'postgres', 'postgresql', 'mysql', 'sqlite', 'mongodb', 'mongo', 'table', 'orm',
    'typeorm', 'prisma', 'transaction', 'query', 'index',
  ],
  concurrency: [
    'concurrent', 'concurrency', 'parallel', 'race condition', 'lock', 'locking', 'queue', 'worker', 'async', 'asynchronous', 'distributed',
    'real-time', 'realtime', 'websocket', 'streaming', 'event-driven', 'idempotent', 'idempotency', 'retry', 'rate limit', 'throttling',
    'consume', 'consumer', 'publish', 'subscriber', 'pub/sub', 'message queue', 'kafka', 'rabbitmq', 'sqs', 'background job', 'cron',
  ],
  ui: [
    'ui', 'frontend', 'front-end', 'page', 'form', 'button', 'react', 'vue', 'angular', 'screen', 'dashboard', 'css', 'modal', 'layout',
    'responsive', 'widget',
  ],
  infrastructure: [
    'deploy', 'deployment', 'docker', 'kubernetes', 'k8s', 'helm', 'terraform', 'ci', 'pipeline', 'cloud', 'load balancer', 'cdn',
    'monitoring', 'observability', 'microservice', 'infrastructure',
  ],
  security: [
    'security', 'secure', 'vulnerability', 'encryption', 'encrypt', 'secret', 'csrf', 'xss', 'injection', 'audit', 'compliance', 'gdpr',
    'hipaa', 'pci', 'sanitize', 'sanitise', 'threat',
  ],
};

const INTEGRATION_TERMS = [
  'stripe', 'paypal', 'braintree', 'adyen', 'github', 'gitlab', 'google', 'facebook', 'apple', 'microsoft', 'okta', 'auth0', 'keycloak',
  'slack', 'twilio', 'sendgrid', 'mailgun', 's3', 'aws', 'gcp', 'azure', 'salesforce', 'hubspot', 'shopify', 'kafka', 'rabbitmq', 'sqs',
  'elasticsearch', 'openai', 'webhook', 'zapier', 'jira', 'firebase', 'segment', 'datadog', 'sentry', 'third-party', 'external api',
] as const;

const RISK_TERMS = [
  'production', 'legacy', 'downtime', 'backward compatible', 'backwards compatible', 'breaking change', 'data loss',
  'rollback', 'high availability', 'scalability', 'scale', 'performance', 'latency', 'compliance', 'gdpr', 'pci', 'hipaa', 'encryption',
  'critical', 'sensitive', 'pii', 'multi-tenant', 'race condition', 'migration',
] as const;

const VAGUE_TERMS = [
  'somehow', 'maybe', 'probably', 'etc', 'various', 'stuff', 'things', 'improve', 'better', 'nicer', 'nice', 'flexible', 'robust',
  'user-friendly', 'intuitive', 'modern', 'seamless', 'optimize', 'optimise', 'as needed', 'and so on', 'tbd', 'whatever', 'some kind of',
] as const;

const SIMPLICITY_TERMS = ['typo', 'rename', 'simple', 'small', 'minor', 'trivial', 'tiny', 'one-line', 'quick', 'cosmetic', 'wording', 'bump'] as const;

/** Words of a failure to diagnose ("fix" alone is not one: "fix a typo"). */
const BUG_TERMS = ['bug', 'broken', 'crash', 'error', 'regression', 'fails', 'failing', 'exception', 'leak', 'flaky', 'incorrect'] as const;

/** Nouns taken as entities when the text does not list its entities. */
const KNOWN_ENTITIES = [
  'user', 'customer', 'account', 'order', 'product', 'invoice', 'payment', 'subscription', 'category', 'comment', 'post', 'article',
  'message', 'notification', 'team', 'project', 'organization', 'organisation', 'ticket', 'booking', 'reservation', 'employee', 'student',
  'course', 'review', 'cart', 'address', 'profile', 'document', 'shipment', 'supplier', 'vendor', 'contact', 'tenant', 'appointment',
  'patient', 'vehicle', 'warehouse', 'author', 'book',
] as const;

/** Integrations that are message brokers: a service plan covers them with its messaging task. */
export const MESSAGE_BROKERS = ['kafka', 'rabbitmq', 'sqs'] as const;

/** Technology named → skill tag. */
const TECHNOLOGY_SKILLS: Record<string, string> = {
  typescript: 'typescript', nestjs: 'typescript', 'node.js': 'typescript', node: 'typescript', javascript: 'javascript',
  python: 'python', django: 'python', flask: 'python', fastapi: 'python', golang: 'go', java: 'java', spring: 'java', kotlin: 'kotlin',
  rust: 'rust', ruby: 'ruby', rails: 'ruby', php: 'php', laravel: 'php', 'c#': 'c#', '.net': 'c#', sql: 'sql', postgres: 'sql',
  postgresql: 'sql', mysql: 'sql', sqlite: 'sql', mongodb: 'mongodb', mongo: 'mongodb', redis: 'redis', react: 'react', vue: 'vue',
  angular: 'angular', graphql: 'graphql', docker: 'docker', kubernetes: 'kubernetes', k8s: 'kubernetes', kafka: 'kafka', css: 'css',
};

const MAX_ENTITIES = 8;
const MAX_COMPONENTS = 6;

const STOP_WORDS = new Set([
  'a', 'an', 'the', 'all', 'their', 'our', 'your', 'its', 'his', 'her', 'them', 'these', 'those', 'this', 'that', 'new', 'existing',
  'basic', 'simple', 'full', 'some', 'each', 'every', 'other', 'more', 'of', 'for', 'to', 'and', 'or', 'with', 'in', 'on', 'api',
  'apis', 'rest', 'endpoint', 'endpoints', 'data', 'crud', 'web', 'main', 'whole', 'entire', 'own', 'my', 'it',
]);

/** Words that introduce a list of entities: "CRUD for a, b and c", "manage their invoices", "entities: a, b". */
const LIST_TRIGGER =
  /\b(?:crud(?:\s+(?:api|apis|endpoints|operations|service|app|backend|ui))?(?:\s+(?:for|of|on))?|(?:entities|resources|models|tables)\s*(?::|like|such\s+as|named|called)|manage|managing|management\s+of|endpoints\s+for|apis?\s+for)\s+([^.;:!?\n()]*)/gi;
const VERBS = new Set(['is', 'are', 'be', 'was', 'were', 'will', 'should', 'must', 'can', 'may', 'need', 'needs', 'has', 'have', 'get', 'gets']);
const LIST_END = /\b(?:with|so|that|which|to|in|using|via|including|where|when|by|from|into|per|plus|behind|under|within)\b/i;
// Starts at a word's first letter only: linear on a long run of letters.
const COMPONENT_PATTERN = /(?<![a-z0-9-])([a-z][a-z0-9-]*)\s+(?:service|microservice|module|component|page|screen|worker|gateway|app|backend|frontend)\b/gi;
const ROUTE_PATTERN = /(?:\b(?:get|post|put|patch|delete)\s+)?(?<![\w/])(\/[a-z0-9_{}:.-]+(?:\/[a-z0-9_{}:.-]+)*)/gi;

export function readRequirement(text: string): RequirementFacts {
  const lower = text.toLowerCase();
  const explicit = listedEntities(text);
  // "POST /orders" names an endpoint, not a post.
  const entities = explicit.length > 0 ? explicit : findTerms(lower.replace(ROUTE_PATTERN, ' '), KNOWN_ENTITIES).map(keySafe);
  return {
    text,
    words: (lower.match(/[\p{L}\p{N}][\p{L}\p{N}'+#.-]*/gu) ?? []).length,
    domains: (Object.keys(DOMAIN_TERMS) as DomainName[])
      .map((name) => ({ name, terms: findTerms(lower, DOMAIN_TERMS[name]) }))
      .filter((d) => d.terms.length > 0),
    entities: unique(entities.filter((e) => e !== '')).slice(0, MAX_ENTITIES),
    components: components(text),
    endpoints: unique([...text.matchAll(ROUTE_PATTERN)].map((m) => m[0].replace(/\s+/g, ' ').replace(/[.:-]+$/, '').trim())),
    integrations: findTerms(lower, INTEGRATION_TERMS),
    riskTerms: findTerms(lower, RISK_TERMS),
    vagueTerms: findTerms(lower, VAGUE_TERMS),
    simplicityTerms: findTerms(lower, SIMPLICITY_TERMS),
    technologies: unique(findTerms(lower, Object.keys(TECHNOLOGY_SKILLS)).map((t) => TECHNOLOGY_SKILLS[t])),
    bugTerms: findTerms(lower, BUG_TERMS),
  };
}

export function hasDomain(facts: RequirementFacts, name: DomainName): boolean {
  return facts.domains.some((d) => d.name === name);
}

/** Lower-case, singular, letters digits and dashes, at most 30: usable inside a task key. */
export function keySafe(word: string): string {
  return singular(word.toLowerCase())
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 30)
    .replace(/-+$/, '');
}

function singular(word: string): string {
  if (/ies$/.test(word) && word.length > 4) return word.slice(0, -3) + 'y';
  if (/(?:sses|ches|shes|xes|zes)$/.test(word)) return word.slice(0, -2);
  if (/[^su]s$/.test(word) && word.length > 3) return word.slice(0, -1);
  return word;
}

/** The terms found in lower-case text as whole words (a plural s or es allowed), in order of first appearance. */
function findTerms(lower: string, terms: readonly string[]): string[] {
  const found: { term: string; at: number }[] = [];
  for (const term of terms) {
    const at = lower.search(termPattern(term));
    if (at >= 0) found.push({ term, at });
  }
  return found.sort((a, b) => a.at - b.at || (a.term < b.term ? -1 : 1)).map((f) => f.term);
}

const patterns = new Map<string, RegExp>();
function termPattern(term: string): RegExp {
  let pattern = patterns.get(term);
  if (!pattern) {
    const escaped = term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/ /g, '\\s+');
    pattern = new RegExp(`(?<![\\p{L}\\p{N}])${escaped}(?:s|es)?(?![\\p{L}\\p{N}#+])`, 'u');
    patterns.set(term, pattern);
  }
  return pattern;
}

function listedEntities(text: string): string[] {
  const entities: string[] = [];
  for (const match of text.matchAll(LIST_TRIGGER)) {
    const clause = match[1].split(LIST_END)[0];
    for (const piece of clause.split(/,|\band\b|\bor\b|&|\//i)) {
      const words = piece
        .trim()
        .split(/\s+/)
        .filter((w) => w !== '' && !STOP_WORDS.has(w.toLowerCase()));
      // A long piece is prose, not a list item: the list has ended.
      if (words.length > 3) break;
      if (words.length === 0) continue;
      const last = words[words.length - 1].toLowerCase();
      // A verb or participle ("are involved", "existing") is not an entity: the list has ended.
      if (VERBS.has(last) || /(?:ed|ing)$/.test(last)) break;
      const head = keySafe(last);
      if (head.length >= 2 && /^[a-z]/.test(head)) entities.push(head);
    }
  }
  return entities;
}

function components(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(COMPONENT_PATTERN)) {
    const word = match[1].toLowerCase();
    if (STOP_WORDS.has(word)) continue;
    const name = keySafe(word);
    if (name.length >= 2) found.push(name);
  }
  return unique(found).slice(0, MAX_COMPONENTS);
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

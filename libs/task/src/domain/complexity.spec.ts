import { analyseComplexity } from './complexity';
import { readRequirement } from './requirement';

const sum = (signals: { weight: number }[]) => signals.reduce((s, x) => s + x.weight, 0);

describe('analyseComplexity', () => {
  it('explains a short requirement by its domains', () => {
    expect(analyseComplexity('add OAuth login to the billing service')).toEqual({
      score: 4,
      signals: [
        { name: 'base', weight: 1, detail: 'every requirement starts at 1' },
        { name: 'size', weight: 0, detail: '7 words' },
        { name: 'domain:auth', weight: 1.5, detail: 'names auth: oauth, login' },
        { name: 'domain:payments', weight: 1.5, detail: 'names payments: billing' },
      ],
    });
  });

  it('gives the same answer for the same text, and the score is the rounded sum of the weights', () => {
    const texts = [
      'fix typo in README',
      'Build a CRUD API for products, orders and customers with pagination',
      'Make the dashboard better somehow, maybe more modern',
      'Create a new notification microservice that consumes order events from Kafka and sends emails via SendGrid; deploy on Kubernetes',
    ];
    for (const text of texts) {
      const first = analyseComplexity(text);
      expect(analyseComplexity(text)).toEqual(first);
      expect(first.score).toBe(Math.min(10, Math.max(1, Math.round(sum(first.signals)))));
      expect(Number.isInteger(first.score)).toBe(true);
    }
  });

  it('scores a small change 1, lowered by words of a small change', () => {
    const typo = analyseComplexity('fix typo in README');
    expect(typo.score).toBe(1);
    expect(typo.signals.find((s) => s.name === 'simplicity')).toEqual({ name: 'simplicity', weight: -0.5, detail: '1 word of a small change: typo' });
  });

  it('raises the score for vagueness, entities, endpoints, integrations and risk words', () => {
    const text =
      'Migrate the legacy payments database to PostgreSQL without downtime, keeping PCI compliance; the orders, invoices and refunds ' +
      'tables are involved, and the Stripe webhook handlers must keep working under concurrent load. Expose GET /payments/{id} and POST /refunds.';
    const analysis = analyseComplexity(text);
    const byName = Object.fromEntries(analysis.signals.map((s) => [s.name, s]));
    expect(byName.endpoints).toEqual({ name: 'endpoints', weight: 0.5, detail: '2 endpoints: GET /payments/{id}, POST /refunds' });
    expect(byName.integrations).toEqual({ name: 'integrations', weight: 1.5, detail: '2 integrations: stripe, webhook' });
    expect(byName.risk.weight).toBe(2);
    expect(byName.entities.detail).toBe('3 entities: payment, order, invoice');
    expect(Object.keys(byName)).toEqual(
      expect.arrayContaining(['domain:payments', 'domain:database', 'domain:concurrency', 'domain:security']),
    );
    expect(analysis.score).toBe(10);
    expect(analyseComplexity('Make the dashboard better somehow, maybe more modern').signals.find((s) => s.name === 'vagueness')).toEqual({
      name: 'vagueness',
      weight: 1.5,
      detail: '4 vague words (open questions to settle): better, somehow, maybe, modern',
    });
  });

  it('grows with the text and each domain named, and stays within 1-10', () => {
    const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');
    const sizes = [5, 30, 80, 200, 500, 1000].map((n) => analyseComplexity(words(n)).signals.find((s) => s.name === 'size')!.weight);
    expect(sizes).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    const base = analyseComplexity('add a page').score;
    expect(analyseComplexity('add a page with login').score).toBeGreaterThan(base);
    const everything = `${words(700)} oauth stripe postgres kafka concurrent kubernetes encryption legacy production gdpr somehow etc`;
    expect(analyseComplexity(everything).score).toBe(10);
  });
});

describe('readRequirement', () => {
  it('finds entities listed after CRUD, manage or "entities:", singular and in order', () => {
    expect(readRequirement('Build a CRUD API for products, orders and customers with pagination').entities).toEqual(['product', 'order', 'customer']);
    expect(readRequirement('Add endpoints for managing users/teams & projects').entities).toEqual(['user', 'team', 'project']);
    expect(readRequirement('Entities: Category, Blog Posts, Addresses.').entities).toEqual(['category', 'post', 'address']);
    expect(readRequirement('Let admins manage their invoices').entities).toEqual(['invoice']);
  });

  it('falls back to known nouns when nothing is listed, and never reads a route as one', () => {
    expect(readRequirement('Customers should see their orders; POST /reviews adds one').entities).toEqual(['customer', 'order']);
  });

  it('names components, routes, technologies and bug words', () => {
    const facts = readRequirement('The billing service crashes on GET /invoices/{id}: rewrite the export worker in Python with Redis');
    expect(facts.components).toEqual(['billing', 'export']);
    expect(facts.endpoints).toEqual(['GET /invoices/{id}']);
    expect(facts.technologies).toEqual(['python', 'redis']);
    expect(facts.bugTerms).toEqual(['crash']);
  });

  it('matches whole words only', () => {
    expect(readRequirement('the authorship of the catalog').domains).toEqual([]);
    expect(readRequirement('checked the logs of the author').domains).toEqual([]);
  });
});

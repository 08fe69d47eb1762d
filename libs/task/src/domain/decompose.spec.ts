import { analysePlan, validatePlan } from './dag';
import { decompose } from './decompose';
import { TaskError, TaskErrorCode } from './task.errors';
import { TaskSpec } from './task-spec';

const keys = (tasks: TaskSpec[]) => tasks.map((t) => t.key);
const byKey = (tasks: TaskSpec[]) => Object.fromEntries(tasks.map((t) => [t.key, t]));

const REQUIREMENTS = [
  'add OAuth login to the billing service',
  'Build a CRUD API for products, orders and customers with pagination',
  'Create a new notification microservice that consumes order events from Kafka and sends emails via SendGrid and SMS via Twilio; deploy on Kubernetes',
  'Fix the crash when the export button is clicked twice',
  'Improve the search page somehow, make it nicer',
  'fix typo in README',
  'Users can manage their invoices and payments from the admin dashboard; create, edit and delete invoices',
];

describe('decompose', () => {
  it.each(REQUIREMENTS)('makes a valid, deterministic plan for "%s"', (requirement) => {
    const plan = decompose(requirement);
    expect(() => validatePlan(plan.tasks)).not.toThrow();
    expect(decompose(requirement)).toEqual(plan);
    for (const task of plan.tasks) {
      expect(task.instructions).toContain(`Requirement: "${requirement}"`);
      expect(task.instructions.split('\n').length).toBeGreaterThanOrEqual(6);
      expect(task.instructions).toMatch(/Produce:\n- /);
      expect(task.instructions).toMatch(/Verify before you finish:\n- /);
      for (const dep of task.dependsOn) expect(task.instructions).toContain(`- ${dep}: `);
    }
    expect(plan.complexity.score).toBe(decompose(requirement).complexity.score);
  });

  it('plans OAuth login as a SECURITY plan: threat model and review by the Reviewer, design by the Architect', () => {
    const plan = decompose('add OAuth login to the billing service');
    expect(plan.template).toBe('SECURITY');
    expect(plan.chosenBecause).toBe('SECURITY scored 2 (security words oauth, login) against CRUD 0, MICROSERVICE 0');
    expect(keys(plan.tasks)).toEqual([
      'threat-model',
      'security-design',
      'implement-oauth-flow',
      'implement-token-handling',
      'security-tests',
      'rollout',
      'security-review',
    ]);
    const tasks = byKey(plan.tasks);
    expect(tasks['threat-model']).toMatchObject({ role: 'REVIEWER', skills: ['security', 'architecture'], dependsOn: [] });
    expect(tasks['security-design']).toMatchObject({ role: 'ARCHITECT', dependsOn: ['threat-model'] });
    expect(tasks['implement-oauth-flow'].title).toBe('Implement oauth flow in the billing service');
    expect(tasks['security-tests'].dependsOn).toEqual(['implement-oauth-flow', 'implement-token-handling']);
    expect(tasks['security-review']).toMatchObject({ role: 'REVIEWER', dependsOn: ['security-tests', 'rollout'] });
    // complexity 4 → design +1 = 5 → 30 x (1 + 8/9) = 56.7 → 55 minutes
    expect(tasks['security-design']).toMatchObject({ complexity: 5, estimateMinutes: 55 });
    const analysis = analysePlan(plan.tasks, { agents: 25 });
    expect(analysis.criticalPath).toEqual(['threat-model', 'security-design', 'implement-oauth-flow', 'security-tests', 'security-review']);
  });

  it('plans CRUD per entity found: migration, endpoints and tests for each, then end-to-end tests and review', () => {
    const plan = decompose('Build a CRUD API for products, orders and customers with pagination');
    expect(plan.template).toBe('CRUD');
    const perEntity = (e: string) => [`migration-${e}`, `crud-${e}`, `tests-${e}`];
    expect(keys(plan.tasks)).toEqual([
      'data-model',
      'api-design',
      ...perEntity('product'),
      ...perEntity('order'),
      ...perEntity('customer'),
      'e2e-tests',
      'code-review',
    ]);
    const tasks = byKey(plan.tasks);
    expect(tasks['data-model'].role).toBe('ARCHITECT');
    expect(tasks['api-design'].role).toBe('ARCHITECT');
    expect(tasks['crud-order']).toMatchObject({ role: 'IMPLEMENTER', dependsOn: ['migration-order', 'api-design'] });
    expect(tasks['crud-order'].instructions).toContain('Implement the order repository, service and controller');
    expect(tasks['e2e-tests'].dependsOn).toEqual(['crud-product', 'tests-product', 'crud-order', 'tests-order', 'crud-customer', 'tests-customer']);
    expect(tasks['code-review']).toMatchObject({ role: 'REVIEWER', dependsOn: ['e2e-tests'] });
  });

  it('adds screens per entity and an access review when the text names a UI and permissions', () => {
    const plan = decompose('CRUD for books and authors in the admin dashboard, with role-based permissions');
    expect(keys(plan.tasks)).toEqual(expect.arrayContaining(['ui-book', 'ui-author', 'access-review']));
    expect(byKey(plan.tasks)['code-review'].dependsOn).toEqual(['e2e-tests', 'access-review']);
  });

  it('plans a new service as a MICROSERVICE plan, with a task per part and per integration', () => {
    const plan = decompose(REQUIREMENTS[2]);
    expect(plan.template).toBe('MICROSERVICE');
    expect(keys(plan.tasks)).toEqual([
      'architecture',
      'api-contract',
      'scaffold',
      'data-model',
      'implement-notification',
      'implement-order',
      'integrate-sendgrid',
      'integrate-twilio',
      'messaging',
      'contract-tests',
      'observability',
      'deployment',
      'code-review',
    ]);
    const tasks = byKey(plan.tasks);
    expect(tasks.architecture).toMatchObject({ role: 'ARCHITECT', title: 'Design the architecture of the notification service' });
    expect(tasks.messaging.skills).toContain('kafka');
    expect(tasks.scaffold.skills).toEqual(['typescript', 'kubernetes']);
  });

  it('uses the template asked for, whatever the text', () => {
    const plan = decompose('add OAuth login to the billing service', { template: 'MICROSERVICE' });
    expect(plan.template).toBe('MICROSERVICE');
    expect(plan.chosenBecause).toBe('the MICROSERVICE template was asked for');
    expect(keys(plan.tasks)).toContain('security-review');
    expect(decompose('Build a CRUD API for products', { template: 'SECURITY' }).tasks.map((t) => t.key)).toContain('threat-model');
  });

  it('plans a bug with the Debugger, a small change with one task, anything else generically', () => {
    const bug = decompose('Fix the crash when the export button is clicked twice');
    expect(bug.template).toBe('GENERIC');
    expect(bug.tasks.map((t) => [t.key, t.role])).toEqual([
      ['reproduce', 'DEBUGGER'],
      ['fix', 'DEBUGGER'],
      ['review', 'REVIEWER'],
    ]);
    expect(bug.chosenBecause).toContain('a bug fix (crash)');

    const typo = decompose('fix typo in README');
    expect(typo.tasks.map((t) => [t.key, t.role, t.estimateMinutes])).toEqual([
      ['change', 'IMPLEMENTER', 10],
      ['review', 'REVIEWER', 20],
    ]);

    const vague = decompose('Improve the search page somehow, make it nicer');
    expect(keys(vague.tasks)).toEqual(['design', 'implement-search', 'tests', 'review']);
    expect(vague.tasks[0].instructions).toContain('Settle what the vague words (improve, somehow, nicer) mean here');
  });

  it('uses the language the text names for the skills', () => {
    const plan = decompose('Build a CRUD API for products in Python with Django');
    expect(byKey(plan.tasks)['crud-product'].skills).toEqual(['python', 'api-design']);
  });

  it('refuses an empty or too long requirement and an unknown template', () => {
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(TaskError);
        return [(err as TaskError).code, (err as TaskError).details?.field];
      }
      return undefined;
    };
    expect(codeOf(() => decompose('   '))).toEqual([TaskErrorCode.REQUIREMENT_INVALID, 'requirement']);
    expect(codeOf(() => decompose('x'.repeat(10_001)))).toEqual([TaskErrorCode.REQUIREMENT_INVALID, 'requirement']);
    expect(codeOf(() => decompose('add login', { template: 'WATERFALL' as never }))).toEqual([TaskErrorCode.REQUIREMENT_INVALID, 'template']);
  });

  it('keeps a plan small whatever the text lists', () => {
    const many = Array.from({ length: 30 }, (_, i) => `thing${String.fromCharCode(97 + (i % 26))}${i}`).join(', ');
    const plan = decompose(`CRUD for ${many}`);
    expect(plan.tasks.length).toBeLessThanOrEqual(2 + 8 * 3 + 2);
    const huge = decompose(`${'Build the billing service with Stripe, PayPal, Adyen, Braintree, Twilio and Slack. '.repeat(100)}`);
    expect(() => validatePlan(huge.tasks)).not.toThrow();
  });
});

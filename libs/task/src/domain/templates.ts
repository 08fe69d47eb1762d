import { PlanBuilder } from './plan-builder';
import { hasDomain, keySafe, MESSAGE_BROKERS, RequirementFacts } from './requirement';

export type TemplateName = 'MICROSERVICE' | 'CRUD' | 'SECURITY';
export const TEMPLATE_NAMES: readonly TemplateName[] = ['MICROSERVICE', 'CRUD', 'SECURITY'];

/** At most this many tasks per kind of item named, so that a long list cannot blow a plan up. */
const MAX_INTEGRATION_TASKS = 4;

/** Design the service, contract, skeleton, one task per part and integration, then tests, operations and reviews. */
export function microservicePlan(plan: PlanBuilder): void {
  const { facts } = plan;
  const service = serviceName(facts);
  const lang = plan.language;
  const parts = unique([...facts.components.filter((c) => c !== service), ...facts.entities]);
  const domainParts = facts.domains.map((d) => d.name).filter((d) => d !== 'infrastructure' && d !== 'ui');
  const components = parts.length > 0 ? parts : domainParts.length > 0 ? domainParts : ['core'];
  const async = hasDomain(facts, 'concurrency');
  const integrations = facts.integrations
    .filter((i) => !(async && (MESSAGE_BROKERS as readonly string[]).includes(i)))
    .map(keySafe)
    .filter((i) => i.length > 0)
    .slice(0, MAX_INTEGRATION_TASKS);
  const needsData = hasDomain(facts, 'database') || facts.entities.length > 0;
  const sensitive = hasDomain(facts, 'auth') || hasDomain(facts, 'security') || hasDomain(facts, 'payments');

  const architecture = plan.add({
    key: 'architecture',
    title: `Design the architecture of the ${service} service`,
    role: 'ARCHITECT',
    kind: 'design',
    skills: ['architecture', lang],
    complexityDelta: 1,
    steps: [
      `Fix the boundary of the ${service} service: what it owns (data, decisions) and what it asks other services for.`,
      `Split it into modules: ${components.join(', ')}; give each its responsibility and public interface (signatures).`,
      `Choose synchronous calls or ${async ? 'queues/events (the requirement names asynchronous work)' : 'events'} for each interaction, and say what happens when a dependency is down (timeouts, retries, fallbacks).`,
      'List the risks (consistency, migration, backwards compatibility, load) and how each is tested.',
    ],
    produce: ['docs/architecture.md: context diagram, modules and interfaces, data ownership, the main flows as sequences, decisions with reasons, what is left out.'],
    verify: [
      `Every part the requirement names (${components.join(', ')}) maps to a module.`,
      'Every external call has a timeout and a failure behaviour.',
    ],
  });

  const contract = plan.add({
    key: 'api-contract',
    title: `Specify the API and events of the ${service} service`,
    role: 'ARCHITECT',
    kind: 'api',
    skills: ['api-design', 'architecture'],
    dependsOn: [architecture],
    steps: [
      'Write the HTTP API as OpenAPI 3: resources, request and response bodies, status codes, the error body and its codes, pagination.',
      'Name which operations are idempotent and how a client retries safely (idempotency keys where a retry could act twice).',
      async ? 'Specify every event or queue message: name, payload schema, producer, consumers, ordering and delivery guarantees.' : 'List the events other services may need later, without building them.',
      'Version the API and state the compatibility rule for later changes.',
    ],
    produce: ['openapi.yaml (valid OpenAPI 3)', async ? 'docs/events.md with one schema per message' : 'a section in docs/architecture.md on events left for later'],
    verify: ['The OpenAPI file passes a linter (e.g. `npx @redocly/cli lint openapi.yaml`).', 'Every module interface from the architecture is reachable through the contract.'],
  });

  const scaffold = plan.add({
    key: 'scaffold',
    title: `Set up the ${service} service skeleton`,
    role: 'IMPLEMENTER',
    kind: 'ops',
    skills: [lang, ...plan.stack.filter((s) => s === 'docker' || s === 'kubernetes')],
    complexityDelta: -1,
    dependsOn: [architecture],
    steps: [
      'Create the project layout from the architecture: one folder per module, the build, lint and test scripts.',
      'Read configuration once at start and validate it; a wrong value stops the process with a message naming the variable.',
      'Add a health endpoint (liveness and readiness), structured logs with a request id, graceful shutdown.',
      'Add a Dockerfile (non-root user, small base image).',
    ],
    produce: ['the runnable skeleton with a passing smoke test of the health endpoint'],
    verify: ['The build, lint and tests pass; the container starts and answers the health check.'],
  });

  const data = needsData
    ? plan.add({
        key: 'data-model',
        title: `Create the ${service} service's data model and migrations`,
        role: 'IMPLEMENTER',
        kind: 'data',
        skills: ['sql', lang],
        dependsOn: [architecture, scaffold],
        steps: [
          `Create the tables the service owns${facts.entities.length > 0 ? ` (${facts.entities.join(', ')})` : ''}, with constraints, indexes for the queries in the contract, and timestamps.`,
          'Write each change as a reversible migration; never rely on schema synchronisation at run time.',
        ],
        produce: ['migrations and the persistence mapping, with a test that migrates up and down on a real database'],
        verify: ['Migrations run up, down and up again on an empty database.'],
      })
    : undefined;

  const implemented = components.map((component) =>
    plan.add({
      key: `implement-${component}`,
      title: `Implement the ${component} module of the ${service} service`,
      role: 'IMPLEMENTER',
      kind: 'implement',
      skills: [lang, ...plan.stack, 'testing'],
      dependsOn: [contract, scaffold, ...(data ? [data] : [])],
      steps: [
        `Implement the ${component} module behind the interface the architecture gives it, and the API operations of the contract it serves.`,
        'Validate every input at the edge; map domain errors to the contract\'s error codes.',
        'Keep the domain logic free of framework code; reach other modules only through their interfaces.',
      ],
      produce: [`the ${component} module with unit tests for its rules and one test per API operation it serves`],
      verify: ['Unit tests, type check and lint pass.', 'Responses match openapi.yaml (status codes, bodies, error codes).'],
    }),
  );

  const integrated = integrations.map((integration) =>
    plan.add({
      key: `integrate-${integration}`,
      title: `Integrate ${integration} in the ${service} service`,
      role: 'IMPLEMENTER',
      kind: 'implement',
      skills: [lang, 'api-design', 'testing'],
      dependsOn: [contract, scaffold],
      steps: [
        `Write a ${integration} client behind a port (an interface the modules use), configured from the validated configuration.`,
        'Give every call a timeout; retry only idempotent calls, with backoff; turn provider errors into domain errors.',
        'Provide a fake of the port for the other modules\' tests.',
      ],
      produce: [`the ${integration} adapter, its fake, and tests of the adapter against recorded or sandbox responses`],
      verify: ['Tests cover success, a timeout, a provider error and a retry.', 'No credential is logged or committed.'],
    }),
  );

  const messaging = async
    ? plan.add({
        key: 'messaging',
        title: `Implement the asynchronous messaging of the ${service} service`,
        role: 'IMPLEMENTER',
        kind: 'implement',
        skills: [lang, ...plan.stack.filter((s) => s === 'kafka' || s === 'redis'), 'testing'],
        complexityDelta: 1,
        dependsOn: [contract, scaffold],
        steps: [
          'Publish and consume the messages of docs/events.md; make every consumer idempotent (a redelivered message must not act twice).',
          'Send failures to a dead-letter queue after bounded retries; expose the queue depth as a metric.',
        ],
        produce: ['producers, consumers and their tests, including a redelivery test'],
        verify: ['A message delivered twice changes the state once.', 'A poison message ends in the dead-letter queue without blocking the others.'],
      })
    : undefined;

  const built = [...implemented, ...integrated, ...(messaging ? [messaging] : [])];
  const tests = plan.add({
    key: 'contract-tests',
    title: `Test the ${service} service end to end against its contract`,
    role: 'IMPLEMENTER',
    kind: 'test',
    skills: ['testing', lang],
    dependsOn: built,
    steps: [
      'Run the service with its real database and queues (containers), fakes only for third parties.',
      'Cover every operation of openapi.yaml: the success case, validation errors, not found, conflicts, and the main flows across modules.',
    ],
    produce: ['integration and contract tests that run in CI'],
    verify: ['The tests pass from a clean checkout with one command.', 'Every operation of openapi.yaml is covered.'],
  });

  const observability = plan.add({
    key: 'observability',
    title: `Add metrics, traces and alerts to the ${service} service`,
    role: 'IMPLEMENTER',
    kind: 'ops',
    skills: [lang, 'performance'],
    complexityDelta: -1,
    dependsOn: built,
    steps: [
      'Export request rate, errors and latency per operation, and the business counters the requirement implies.',
      'Propagate trace context across HTTP calls and messages.',
      'Write alert rules for error rate and latency with thresholds and a runbook line each.',
    ],
    produce: ['metrics, tracing, alert rules and a runbook section'],
    verify: ['The metrics appear on the metrics endpoint in a test; the alert rules pass the rule checker.'],
  });

  const deployment = plan.add({
    key: 'deployment',
    title: `Deliver the ${service} service: CI pipeline and deployment`,
    role: 'IMPLEMENTER',
    kind: 'ops',
    skills: [...plan.stack.filter((s) => s === 'docker' || s === 'kubernetes'), 'testing', lang],
    complexityDelta: -1,
    dependsOn: [scaffold, observability],
    steps: [
      'Add the CI pipeline: build, lint, type check, unit and contract tests, image build and scan.',
      'Write the deployment manifests with resource limits, health probes and configuration from secrets.',
      'Describe the rollout and the rollback, including migrations.',
    ],
    produce: ['the pipeline definition, deployment manifests and docs/operations.md'],
    verify: ['The pipeline passes on the branch; a rollback is described step by step.'],
  });

  const securityReview = sensitive
    ? plan.add({
        key: 'security-review',
        title: `Review the security of the ${service} service`,
        role: 'REVIEWER',
        kind: 'review',
        skills: ['security', 'code-review'],
        complexityDelta: 1,
        dependsOn: built,
        steps: [
          'Check authentication and authorisation on every operation, input validation, injection, secrets handling and what is logged.',
          'Check that money or identity changes are idempotent and audited.',
        ],
        produce: ['a verdict with findings, most severe first, each with a file, line and a fix'],
        verify: ['Every operation of openapi.yaml was checked for access control.'],
      })
    : undefined;

  plan.add({
    key: 'code-review',
    title: `Review the ${service} service as a whole`,
    role: 'REVIEWER',
    kind: 'review',
    skills: ['code-review', 'architecture', lang],
    dependsOn: [tests, deployment, ...(securityReview ? [securityReview] : [])],
    steps: [
      'Compare the code with the architecture and the contract; flag every departure that is not explained.',
      'Check tests of each behaviour, error handling, timeouts and retries, and readability.',
    ],
    produce: ['a verdict with findings, most severe first'],
    verify: ['Each module, integration and operation was looked at.'],
  });
}

/** Design the data model and API, then per entity: migration, CRUD, tests (and screens when a UI is named); then end-to-end tests and review. */
export function crudPlan(plan: PlanBuilder): void {
  const { facts } = plan;
  const entities = facts.entities.length > 0 ? facts.entities : ['record'];
  const lang = plan.language;
  const ui = hasDomain(facts, 'ui');
  const access = hasDomain(facts, 'auth') || hasDomain(facts, 'security');

  const model = plan.add({
    key: 'data-model',
    title: `Design the data model for ${entities.join(', ')}`,
    role: 'ARCHITECT',
    kind: 'design',
    skills: ['architecture', 'sql'],
    steps: [
      `For each entity (${entities.join(', ')}): fields with types, which are required, unique or indexed, and their validation rules.`,
      'The relations between the entities, with what happens to the children when a parent is deleted (soft delete by default).',
      'Audit fields (created, updated, deleted at) and an optimistic-locking version on each entity.',
    ],
    produce: ['docs/data-model.md: one table per entity and a relation diagram'],
    verify: ['Every entity the requirement names is modelled; every relation has a delete rule.'],
  });

  const api = plan.add({
    key: 'api-design',
    title: `Design the REST API for ${entities.join(', ')}`,
    role: 'ARCHITECT',
    kind: 'api',
    skills: ['api-design', 'architecture'],
    dependsOn: [model],
    steps: [
      'For each entity: create, get by id, list (pagination, filters, sort), update (with the expected version), delete.',
      'Request and response bodies with their validation rules; the error body and its codes (validation, not found, conflict).',
      access ? 'The permission each operation needs.' : 'Which operations need an authenticated caller.',
    ],
    produce: ['openapi.yaml covering every operation'],
    verify: ['The OpenAPI file passes a linter; every entity has the five operations or a reason why not.'],
  });

  const built: string[] = [];
  for (const entity of entities) {
    const migration = plan.add({
      key: `migration-${entity}`,
      title: `Create the ${entity} table and its migration`,
      role: 'IMPLEMENTER',
      kind: 'data',
      skills: ['sql', lang],
      complexityDelta: -1,
      dependsOn: [model],
      steps: [`Create the ${entity} table from docs/data-model.md: columns, constraints, indexes, foreign keys.`, 'Write it as a reversible migration.'],
      produce: [`the ${entity} migration and its persistence mapping`],
      verify: ['The migration runs up, down and up again on an empty database.'],
    });
    const crud = plan.add({
      key: `crud-${entity}`,
      title: `Implement create, read, update and delete for ${entity}`,
      role: 'IMPLEMENTER',
      kind: 'implement',
      skills: [lang, ...plan.stack, 'api-design'],
      dependsOn: [migration, api],
      steps: [
        `Implement the ${entity} repository, service and controller for the operations of openapi.yaml.`,
        'Validate input at the edge; update with the expected version and answer a conflict when it changed; exclude soft-deleted rows from every read.',
      ],
      produce: [`the ${entity} endpoints`],
      verify: [`Every ${entity} operation answers as openapi.yaml says, including validation errors, not found and conflict.`],
    });
    plan.add({
      key: `tests-${entity}`,
      title: `Test the ${entity} endpoints`,
      role: 'IMPLEMENTER',
      kind: 'test',
      skills: ['testing', lang],
      complexityDelta: -1,
      dependsOn: [crud],
      steps: [`Write unit tests for the ${entity} rules and integration tests for each ${entity} operation against a real database.`],
      produce: [`the ${entity} test suite`],
      verify: ['The tests pass, and each fails when the behaviour it covers is broken.'],
    });
    built.push(crud, `tests-${entity}`);
    if (ui) {
      built.push(
        plan.add({
          key: `ui-${entity}`,
          title: `Build the ${entity} screens`,
          role: 'IMPLEMENTER',
          kind: 'implement',
          skills: [...plan.stack.filter((s) => s === 'react' || s === 'vue' || s === 'angular' || s === 'css'), lang, 'testing'],
          complexityDelta: -1,
          dependsOn: [crud],
          steps: [`Build a list (paginated, filterable), a detail view and a create/edit form for ${entity}, showing the API's validation errors by field.`],
          produce: [`the ${entity} screens with component tests`],
          verify: ['The screens work against the running API; the form shows server-side validation errors.'],
        }),
      );
    }
  }

  const e2e = plan.add({
    key: 'e2e-tests',
    title: `Test the ${entities.join(', ')} API end to end`,
    role: 'IMPLEMENTER',
    kind: 'test',
    skills: ['testing', lang],
    dependsOn: built,
    steps: ['Through HTTP, run the full life of each entity and the flows across related entities (create a parent and children, delete the parent).'],
    produce: ['end-to-end tests that run in CI'],
    verify: ['The tests pass from a clean checkout with one command.'],
  });

  const accessReview = access
    ? plan.add({
        key: 'access-review',
        title: 'Review access control on every operation',
        role: 'REVIEWER',
        kind: 'review',
        skills: ['security', 'code-review'],
        dependsOn: built,
        steps: ['Check each operation against the permissions of openapi.yaml; look for objects reachable by id without an ownership check.'],
        produce: ['a verdict with findings, most severe first'],
        verify: ['Every operation was checked.'],
      })
    : undefined;

  plan.add({
    key: 'code-review',
    title: `Review the ${entities.join(', ')} CRUD change`,
    role: 'REVIEWER',
    kind: 'review',
    skills: ['code-review', lang],
    dependsOn: [e2e, ...(accessReview ? [accessReview] : [])],
    steps: ['Check the code against docs/data-model.md and openapi.yaml, the tests of each behaviour, error handling and readability.'],
    produce: ['a verdict with findings, most severe first'],
    verify: ['Each entity was looked at.'],
  });
}

/** Security areas the requirement names → the components to build. */
const SECURITY_COMPONENTS: readonly { component: string; terms: readonly string[] }[] = [
  { component: 'oauth-flow', terms: ['oauth', 'oauth2', 'openid', 'oidc'] },
  { component: 'sso', terms: ['sso', 'saml'] },
  { component: 'token-handling', terms: ['oauth', 'oauth2', 'openid', 'oidc', 'jwt', 'sso', 'saml'] },
  { component: 'credentials', terms: ['login', 'log in', 'sign in', 'sign-in', 'signup', 'sign up', 'sign-up', 'password'] },
  { component: 'mfa', terms: ['2fa', 'mfa'] },
  { component: 'authorization', terms: ['authorization', 'authorisation', 'permission', 'rbac', 'role-based', 'access control'] },
  { component: 'encryption', terms: ['encryption', 'encrypt', 'secret'] },
  { component: 'audit-log', terms: ['audit'] },
  { component: 'input-hardening', terms: ['csrf', 'xss', 'injection', 'sanitize', 'sanitise'] },
];

/** Threat model first, then the design of the controls, one task per control, abuse tests, rollout and a security review. */
export function securityPlan(plan: PlanBuilder): void {
  const { facts } = plan;
  const lang = plan.language;
  const named = new Set(facts.domains.filter((d) => d.name === 'auth' || d.name === 'security').flatMap((d) => d.terms));
  const found = SECURITY_COMPONENTS.filter((c) => c.terms.some((t) => named.has(t))).map((c) => c.component);
  const components = found.length > 0 ? found : ['security-controls'];
  // "OAuth login": the flow is the login; a separate credentials task would build passwords nobody asked for.
  if (components.includes('credentials') && (components.includes('oauth-flow') || components.includes('sso')) && !named.has('password')) {
    components.splice(components.indexOf('credentials'), 1);
  }
  const where = facts.components.length > 0 ? ` in the ${facts.components[0]} service` : '';
  const providers = facts.integrations.map(keySafe).filter((i) => i.length > 0).slice(0, MAX_INTEGRATION_TASKS);

  const threats = plan.add({
    key: 'threat-model',
    title: `Threat-model the change${where}`,
    role: 'REVIEWER',
    kind: 'threat-model',
    skills: ['security', 'architecture'],
    complexityDelta: 1,
    steps: [
      'List the assets (accounts, tokens, personal and payment data), the actors and the trust boundaries the change crosses.',
      'Walk each flow with STRIDE (spoofing, tampering, repudiation, information disclosure, denial of service, elevation of privilege).',
      'Rank the threats by likelihood and impact, and give each a mitigation that can be tested.',
    ],
    produce: ['docs/threat-model.md: data-flow diagram, ranked threats, a mitigation and an acceptance test per threat'],
    verify: ['Every flow the requirement adds or changes is in the diagram; every high threat has a testable mitigation.'],
  });

  const design = plan.add({
    key: 'security-design',
    title: `Design the security controls${where}`,
    role: 'ARCHITECT',
    kind: 'design',
    skills: ['architecture', 'security', 'api-design'],
    complexityDelta: 1,
    dependsOn: [threats],
    steps: [
      `Design ${components.join(', ')}: the flows as sequences, where tokens and secrets are stored and for how long, rotation and revocation.`,
      'Say which threat of docs/threat-model.md each control mitigates, and what the user sees on each failure.',
      'Plan the migration of existing users and sessions, and a feature flag for the rollout.',
    ],
    produce: ['docs/security-design.md with the flows, data changes and the control → threat table'],
    verify: ['Every high threat is mitigated by a named control.'],
  });

  const built = components.map((component) =>
    plan.add({
      key: `implement-${component}`,
      title: `Implement ${component.replace(/-/g, ' ')}${where}`,
      role: 'IMPLEMENTER',
      kind: 'implement',
      skills: [lang, 'security', 'testing'],
      complexityDelta: component === 'oauth-flow' || component === 'sso' || component === 'mfa' ? 1 : 0,
      dependsOn: [design],
      steps: [
        `Implement ${component.replace(/-/g, ' ')} as docs/security-design.md describes, with library primitives (no home-made crypto).`,
        'Fail closed: any error in a check denies access; compare secrets in constant time; never log tokens, passwords or keys.',
      ],
      produce: [`the ${component} code with unit tests of each rule and each failure path`],
      verify: ['Tests cover the success path and every failure path of the design.', 'No secret appears in logs or in the repository.'],
    }),
  );
  for (const provider of providers) {
    built.push(
      plan.add({
        key: `integrate-${provider}`,
        title: `Integrate ${provider} as a provider${where}`,
        role: 'IMPLEMENTER',
        kind: 'implement',
        skills: [lang, 'security', 'api-design'],
        dependsOn: [design],
        steps: [
          `Configure and call ${provider} as the design says: credentials from configuration, redirect URIs allow-listed, state and nonce checked.`,
          `Give every call a timeout and turn ${provider} errors into denials with a clear message.`,
        ],
        produce: [`the ${provider} adapter with tests against a fake or sandbox`],
        verify: ['A forged state, an expired code and a provider outage are each refused cleanly.'],
      }),
    );
  }

  const abuseTests = plan.add({
    key: 'security-tests',
    title: `Write abuse and negative tests${where}`,
    role: 'IMPLEMENTER',
    kind: 'test',
    skills: ['testing', 'security', lang],
    dependsOn: built,
    steps: [
      'Turn each threat of docs/threat-model.md into a test: forged or replayed tokens, CSRF, privilege escalation, brute force, enumeration.',
      'Test through HTTP against the running application.',
    ],
    produce: ['the abuse test suite, runnable in CI'],
    verify: ['Each test fails when its mitigation is switched off.'],
  });

  const rollout = plan.add({
    key: 'rollout',
    title: `Prepare the rollout${where}`,
    role: 'IMPLEMENTER',
    kind: 'ops',
    skills: [lang, 'security'],
    complexityDelta: -1,
    dependsOn: [design],
    steps: [
      'Provision secrets through the secret store and document each new configuration variable.',
      'Put the change behind a feature flag; add metrics and an alert for authentication failures and denials.',
      'Write the rollback steps, including for users migrated already.',
    ],
    produce: ['configuration, flag, metrics, alert rules and docs/operations.md'],
    verify: ['The application starts with the flag off and on; the alert rules pass the rule checker.'],
  });

  plan.add({
    key: 'security-review',
    title: `Review the security of the change${where}`,
    role: 'REVIEWER',
    kind: 'review',
    skills: ['security', 'code-review'],
    complexityDelta: 1,
    dependsOn: [abuseTests, rollout],
    steps: [
      'Check the code against docs/threat-model.md and docs/security-design.md, and the OWASP ASVS items for the areas touched.',
      'Look for secrets in code, logs and error messages, missing checks on any path, and unsafe defaults.',
    ],
    produce: ['a verdict with findings, most severe first, each with a file, line and a fix'],
    verify: ['Every threat has its mitigation in code and its test.'],
  });
}

/** A requirement scoring at most this, with words of a small change, gets a change and a review only. */
const SMALL_CHANGE_SCORE = 2;

export type GenericShape = 'SMALL_CHANGE' | 'BUG_FIX' | 'FEATURE';

/** Which generic graph fits the text. */
export function genericShape(facts: RequirementFacts, score: number): GenericShape {
  if (facts.bugTerms.length > 0) return facts.entities.length + facts.components.length <= 2 ? 'BUG_FIX' : 'FEATURE';
  return facts.simplicityTerms.length > 0 && score <= SMALL_CHANGE_SCORE ? 'SMALL_CHANGE' : 'FEATURE';
}

/**
 * No template fits: a small change (change, review), a bug (reproduce, fix, review) when the text
 * reports one, else design, one implementation per component named, tests and review.
 */
export function genericPlan(plan: PlanBuilder): void {
  const { facts } = plan;
  const lang = plan.language;
  const shape = genericShape(facts, plan.score);
  if (shape === 'SMALL_CHANGE') {
    const change = plan.add({
      key: 'change',
      title: 'Make the change',
      role: 'IMPLEMENTER',
      kind: 'small-change',
      skills: [lang],
      steps: ['Find every place the requirement concerns and make the change there, and nothing else.', 'Update any test or snapshot that asserts the old behaviour.'],
      produce: ['the change'],
      verify: ['Tests, type check and lint pass; the diff contains only the change asked for.'],
    });
    plan.add({
      key: 'review',
      title: 'Review the change',
      role: 'REVIEWER',
      kind: 'review',
      skills: ['code-review'],
      dependsOn: [change],
      steps: ['Check that the change does what the requirement asks, everywhere it applies, and nothing more.'],
      produce: ['a verdict with findings, most severe first'],
      verify: ['The requirement is met in full.'],
    });
    return;
  }
  if (shape === 'BUG_FIX') {
    const reproduce = plan.add({
      key: 'reproduce',
      title: 'Reproduce the failure and find its root cause',
      role: 'DEBUGGER',
      kind: 'diagnose',
      skills: ['debugging', lang, 'testing'],
      steps: [
        'Reproduce the failure with a failing automated test (or a command) and show its output.',
        'Follow the code path with evidence (logs, a smaller reproduction) until the cause is proven; do not guess.',
      ],
      produce: ['a failing test that reproduces the failure', 'a short note: the cause, with the evidence'],
      verify: ['The test fails for the reason described, not for another one.'],
    });
    const fix = plan.add({
      key: 'fix',
      title: 'Fix the root cause',
      role: 'DEBUGGER',
      kind: 'implement',
      skills: ['debugging', lang, 'testing'],
      dependsOn: [reproduce],
      steps: ['Fix the cause, not the symptom; keep the change as small as the cause allows.', 'Look for the same mistake elsewhere in the code and fix it too.'],
      produce: ['the fix, with the reproduction test now passing as a regression test'],
      verify: ['The regression test fails without the fix and passes with it; the related tests all pass.'],
    });
    plan.add({
      key: 'review',
      title: 'Review the fix',
      role: 'REVIEWER',
      kind: 'review',
      skills: ['code-review', lang],
      dependsOn: [fix],
      steps: ['Check that the fix addresses the proven cause, that the regression test covers it, and that nothing else changed.'],
      produce: ['a verdict with findings, most severe first'],
      verify: ['The cause, the fix and the test agree.'],
    });
    return;
  }

  const components = unique([...facts.components, ...facts.entities]).slice(0, 6);
  const parts = components.length > 0 ? components : ['change'];
  const design = plan.add({
    key: 'design',
    title: 'Design the change',
    role: 'ARCHITECT',
    kind: 'design',
    skills: ['architecture', lang],
    steps: [
      'Read the code the requirement touches and name the files and types you read.',
      `Plan the change${components.length > 0 ? ` to ${components.join(', ')}` : ''}: interfaces and signatures, data changes, the order of the steps.`,
      facts.vagueTerms.length > 0
        ? `Settle what the vague words (${facts.vagueTerms.join(', ')}) mean here, as measurable acceptance criteria.`
        : 'Write the acceptance criteria as checks a test can make.',
    ],
    produce: ['a design note: goal, steps, interfaces, acceptance criteria, risks, what is left out'],
    verify: ['Each acceptance criterion can be checked by a test.'],
  });
  const built = parts.map((part) =>
    plan.add({
      key: `implement-${part}`,
      title: part === 'change' ? 'Implement the change' : `Implement the change to ${part}`,
      role: 'IMPLEMENTER',
      kind: 'implement',
      skills: [lang, ...plan.stack, 'testing'],
      dependsOn: [design],
      steps: [
        `Implement ${part === 'change' ? 'the change' : `the ${part} part`} as the design says, following the code's existing style.`,
        'Add or update a test for every behaviour you change.',
      ],
      produce: ['the change, with its tests'],
      verify: ['Tests, type check and lint pass.'],
    }),
  );
  const tests = plan.add({
    key: 'tests',
    title: 'Test the acceptance criteria',
    role: 'IMPLEMENTER',
    kind: 'test',
    skills: ['testing', lang],
    complexityDelta: -1,
    dependsOn: built,
    steps: ['Write one test per acceptance criterion of the design note, at the level where it is observable (unit, integration or end to end).'],
    produce: ['the acceptance tests'],
    verify: ['Each test fails when its criterion is broken.'],
  });
  plan.add({
    key: 'review',
    title: 'Review the change',
    role: 'REVIEWER',
    kind: 'review',
    skills: ['code-review', lang],
    dependsOn: [tests],
    steps: ['Check the change against the design note: correctness, tests of each behaviour, security, error handling, readability.'],
    produce: ['a verdict with findings, most severe first'],
    verify: ['Each acceptance criterion was checked.'],
  });
}

function serviceName(facts: RequirementFacts): string {
  return facts.components[0] ?? facts.entities[0] ?? 'new';
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

/**
 * The layout rules (README, Layout), checked by `npm run lint:deps` and so by `npm test` and CI.
 * Paths are relative to the repository root; `@app/*` aliases are resolved through tsconfig.json,
 * so an alias import is judged by the file it lands on. infrastructure/layout/layout.spec.ts runs
 * `lint:deps` on a miniature repository to prove that every rule reports a deliberate violation.
 */

// Test code: specs, e2e tests, shared test support, benchmarks, and the fakes behind `testing` entries.
const TEST_CODE = [
  '\\.(spec|int-spec|e2e-spec)\\.ts$',
  '^apps/[^/]+/test/',
  '^test/',
  '^bench/',
  '^libs/[^/]+/src/testing(\\.ts$|/)',
  '^libs/[^/]+/src/.+/testing/',
];
// A lib's public entries: its index, and its testing entry for test code.
const PUBLIC_ENTRY = '^libs/[^/]+/src/index\\.ts$';
const TESTING_ENTRY = '^libs/[^/]+/src/testing(\\.ts|/index\\.ts)$';

// Node built-ins that touch the world: files, processes, network, the host.
const IO_CORE = '^(node:)?(fs|fs/promises|child_process|net|http|https|http2|dgram|dns|dns/promises|tls|cluster|worker_threads|readline|os|inspector|repl|vm)$';
// Libraries that do I/O or hold process-wide state (databases, Redis, queues, HTTP, git, Redis locks, the
// metrics registry, the log sink): use cases reach them through ports.
const IO_LIBRARY =
  'node_modules/(typeorm|@nestjs/typeorm|pg|pg-[^/]+|ioredis|redis|bullmq|@nestjs/bullmq|@bull-board/[^/]+|axios|undici|node-fetch|got|simple-git|redlock|redis-semaphore|express|@nestjs/platform-express|supertest|prom-client|pino|pino-http|nestjs-pino)/';
// The libs every context may use; they know no context (each other lib is a bounded context).
const SHARED_LIBS = '^libs/(shared|config|http|observability|platform)/';

module.exports = {
  forbidden: [
    {
      name: 'domain-pure',
      severity: 'error',
      comment:
        'Domain code is plain TypeScript: no framework, no ORM, no I/O, so it is tested and reasoned about alone. ' +
        'Only node:crypto (ids, hashes: pure computation) is allowed from outside the repository.',
      from: { path: '^libs/[^/]+/src/domain/', pathNot: TEST_CODE },
      to: {
        dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'],
        pathNot: '^(node:)?crypto$',
      },
    },
    {
      name: 'domain-reaches-no-framework',
      severity: 'error',
      comment:
        'domain-pure checks a domain file\'s own imports; this follows them through the shared kernel, a sibling or ' +
        'another lib: what a domain file loads reaches no package and no I/O built-in either. A report names the ' +
        'chain (`via`); usually a barrel that mixes kernel types with framework code, to be split.',
      from: { path: '^libs/[^/]+/src/domain/', pathNot: TEST_CODE },
      to: { path: ['(^|/)node_modules/', IO_CORE], reachable: true },
    },
    {
      name: 'domain-inward',
      severity: 'error',
      comment:
        'Dependencies point inward: a domain file does not know the use cases, adapters or Nest module of its context.',
      from: { path: '^libs/([^/]+)/src/domain/', pathNot: TEST_CODE },
      to: { path: '^libs/$1/src/', pathNot: '^libs/$1/src/domain/' },
    },
    {
      name: 'application-no-io',
      severity: 'error',
      comment:
        'Use cases reach I/O only through ports: no filesystem, process, network or host built-in, no database, ' +
        'Redis, queue or HTTP library. @nestjs/common is allowed (DI decorators).',
      from: { path: '^libs/[^/]+/src/application/', pathNot: TEST_CODE },
      to: { path: [IO_CORE, IO_LIBRARY] },
    },
    {
      name: 'application-no-adapters',
      severity: 'error',
      comment: 'Use cases depend on ports; the module decides the adapter. So application never imports infrastructure.',
      from: { path: '^libs/([^/]+)/src/application/', pathNot: TEST_CODE },
      to: { path: '^libs/$1/src/infrastructure/' },
    },
    {
      name: 'lib-entry-only',
      severity: 'error',
      comment:
        "No import reaches into another lib's folders: other code uses libs/<lib>/src/index.ts, " +
        'or libs/<lib>/src/testing for test code. Relative paths and @app/<lib>/<sub> aliases both count.',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/', pathNot: ['^libs/$1/', PUBLIC_ENTRY, TESTING_ENTRY] },
    },
    {
      name: 'entry-only-from-outside-libs',
      severity: 'error',
      comment: 'Apps, migrations, test support, benchmarks and infrastructure use a lib through its public (or testing) entry too.',
      from: { path: '^(apps|migrations|test|bench|infrastructure)/' },
      to: { path: '^libs/', pathNot: [PUBLIC_ENTRY, TESTING_ENTRY] },
    },
    {
      name: 'shared-libs-know-no-context',
      severity: 'error',
      comment:
        'The libs every context uses (the kernel, config, the HTTP edge, observability, platform) import no bounded ' +
        'context, specs included: each context plugs into them (a port, a provider), never the other way round.',
      from: { path: SHARED_LIBS },
      to: { path: '^libs/', pathNot: SHARED_LIBS },
    },
    {
      name: 'no-test-code-in-production',
      severity: 'error',
      comment: 'Fakes and test support never ship: production code imports no `testing` entry, test/ or bench/ file.',
      from: { path: '^(apps|libs|migrations)/', pathNot: TEST_CODE },
      to: { path: TEST_CODE },
    },
    {
      name: 'lib-not-to-outer-layers',
      severity: 'error',
      comment:
        'Apps use libs, not the other way round: a lib (its specs included) knows no app, migration, benchmark or ops file. ' +
        'Lib specs may use test/support; lib production code may not (no-test-code-in-production).',
      from: { path: '^libs/' },
      to: { path: '^(apps|migrations|bench|infrastructure)/' },
    },
    {
      name: 'migration-frozen',
      severity: 'error',
      comment:
        'Migrations are frozen snapshots: they carry their own SQL and seed data and import no live code, so changing a ' +
        'domain class never changes what an old migration does. Only the data source and the runner may import libs (public entries).',
      from: { path: '^migrations/', pathNot: ['^migrations/(data-source|cli-data-source|run)\\.ts$', '\\.(spec|int-spec|e2e-spec)\\.ts$'] },
      to: { path: '^(libs|apps|test|bench|infrastructure)/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files form no import cycle: a cycle makes load order matter and the parts impossible to understand apart.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-libs',
      severity: 'error',
      comment:
        'Libs form no cycle either, even when their files do not (lib A imports B, a corner of B imports A): ' +
        'a cycle between contexts means neither can be understood, tested or extracted without the other. ' +
        "A lib is everything under libs/<lib>/src, so a spec of A importing B counts as A depending on B.",
      scope: 'folder',
      from: { path: '^libs/[^/]+/src$' },
      to: { path: '^libs/', circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves, so a broken alias cannot hide a dependency from the rules above.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // test/ (shared test support) builds the whole app for e2e specs: followed from a lib's spec, it would make
    // every lib look cyclic. So this cruise stops at it, and `npm run lint:deps` cruises test/ on its own after.
    doNotFollow: { path: ['node_modules', '^test/'] },
    // Build output and coverage of the repository, but not a package's own dist/ (where @nestjs/swagger, bullmq and
    // axios live): excluding those would hide their imports from every rule.
    exclude: { path: ['^(dist|coverage)/', '^(apps|libs)/[^/]+/(dist|coverage)/'] },
    tsConfig: { fileName: 'tsconfig.json' },
    // Type-only imports are dependencies of the design too.
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};

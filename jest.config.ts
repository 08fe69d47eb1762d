/** @jest-config-loader ts-node */
/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// Path aliases mirror tsconfig.json "paths".
const moduleNameMapper = {
  '^@app/(shared|config|locking|observability|opencode|platform|session|agent|task|auth|workspace|approval)$': '<rootDir>/libs/$1/src',
  '^@app/(workspace)/testing$': '<rootDir>/libs/$1/src/testing',
  '^@app/observability/instrumentation$': '<rootDir>/libs/observability/src/instrumentation',
  '^@app/testing$': '<rootDir>/test/support',
};
const transform = { '^.+\\.ts$': ['@swc/jest'] as [string] };
const common = { rootDir: __dirname, moduleNameMapper, transform, testEnvironment: 'node' };

// Unit specs are pure and run in parallel; integration and e2e specs share the real
// PostgreSQL, Redis and one `opencode serve` started by the global setup.
const config: Config = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs,bench,infrastructure}/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/libs/**/*.int-spec.ts', '<rootDir>/migrations/**/*.int-spec.ts', '<rootDir>/infrastructure/**/*.int-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/apps/**/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
export default config;

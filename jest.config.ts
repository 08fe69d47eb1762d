/** @jest-config-loader ts-node */
/** @jest-config-loader-options {"transpileOnly": true} */
import type { Config } from 'jest';

// Path aliases mirror tsconfig.json "paths".
const moduleNameMapper = {
  '^@app/(shared|config|locking|observability|opencode|platform|http|session|agent|task|auth|workspace|approval|spending|capacity)$': '<rootDir>/libs/$1/src',
  '^@app/(agent|approval|auth|locking|observability|session|task|workspace|spending|capacity)/testing$': '<rootDir>/libs/$1/src/testing',
  '^@app/migrations$': '<rootDir>/migrations',
  '^@app/testing$': '<rootDir>/test/support',
};
const transform = { '^.+\\.ts$': ['@swc/jest'] as [string] };
const common = { rootDir: __dirname, moduleNameMapper, transform, testEnvironment: 'node' };

// Unit specs are pure and run under jest's default timeout. Integration and e2e specs use the
// machine's PostgreSQL and Redis and one `opencode serve` (global setup); every file gets its own
// database, cloned from a template the global setup migrates, and its own queue prefix
// (test/support/file-setup.ts), so files may run in parallel. Their timeouts leave room for
// what they wait for: an integration spec's waits allow up to 30 s, an e2e run or plan up to 90 s.
// (jest reads `testTimeout` from the top level only, jestjs/jest#9696: file-setup.ts applies
// the project's `globals.testTimeoutMs`.)
const withServices = {
  ...common,
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  setupFilesAfterEnv: ['<rootDir>/test/support/file-setup.ts'],
};
const config: Config = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs,bench,infrastructure}/**/*.spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/unit-setup.ts'],
    },
    {
      ...withServices,
      displayName: 'integration',
      testMatch: ['<rootDir>/libs/**/*.int-spec.ts', '<rootDir>/migrations/**/*.int-spec.ts', '<rootDir>/infrastructure/**/*.int-spec.ts', '<rootDir>/test/**/*.int-spec.ts'],
      globals: { testTimeoutMs: 60_000 },
    },
    {
      ...withServices,
      displayName: 'e2e',
      testMatch: ['<rootDir>/apps/**/test/**/*.e2e-spec.ts'],
      globals: { testTimeoutMs: 120_000 },
    },
  ],
};
export default config;

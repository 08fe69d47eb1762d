import { join } from 'node:path';
import { loadConfig, register } from 'tsconfig-paths';

// Jest applies moduleNameMapper to test files only: code loaded by the global setup and
// teardown (e.g. database.ts → @app/config) needs tsconfig.json's "paths" resolved here.
const tsconfig = loadConfig(join(__dirname, '..', '..'));
if (tsconfig.resultType === 'success') register({ baseUrl: tsconfig.absoluteBaseUrl, paths: tsconfig.paths });

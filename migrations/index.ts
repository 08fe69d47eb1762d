// The public entry of the migrations (@app/migrations), for the apps, the tests and the tools.
// No lib imports it: the application's TypeORM root loads each context's entities by itself.
export { MIGRATIONS } from './all-migrations';
export { dataSourceOptions, ensureDatabase, runMigrations } from './data-source';

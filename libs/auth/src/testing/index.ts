// The auth context's fakes for specs (@app/auth/testing); production code never imports this.
export * from './in-memory-api-key.repository';
export * from './in-memory-spend-limits';

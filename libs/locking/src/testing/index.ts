// The locking context's fakes for specs (@app/locking/testing); production code never imports this.
export * from './in-memory-locks';

// The session context's fakes for specs (@app/session/testing); production code never imports this.
export * from './fakes';
export * from './fake-approval-gate';
export * from './in-memory-session-events';

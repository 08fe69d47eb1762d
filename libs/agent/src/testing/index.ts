// The agent context's fakes for specs (@app/agent/testing); production code never imports this.
export * from './fakes';

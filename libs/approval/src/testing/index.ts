// The approval context's fakes for specs (@app/approval/testing); production code never imports this.
export * from './fakes';

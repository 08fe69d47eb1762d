// The spending context's fakes for specs (@app/spending/testing); production code never imports this.
export * from './fakes';

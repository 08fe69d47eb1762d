// The task context's fakes for specs (@app/task/testing); production code never imports this.
export * from './fakes';
export * from './fake-git';
export * from './task-spec';

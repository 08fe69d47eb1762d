import type { FleetServerState, recycleKind } from './fleet-policy';

type RecycleKind = ReturnType<typeof recycleKind>;

// Records rather than arrays: a state or kind added to fleet-policy.ts and missing here does not compile.
const STATES: Record<FleetServerState, true> = { STARTING: true, READY: true, DRAINING: true, UNHEALTHY: true, STOPPED: true };
const RECYCLE_KINDS: Record<RecycleKind, true> = { sessions: true, rss: true, age: true, drain: true, unhealthy: true, exited: true };

/** Every state a fleet server can be in, in its life's order (the API's enum, a metric label). */
export const FLEET_SERVER_STATES = Object.keys(STATES) as FleetServerState[];

/** Every kind of recycle reason (a metric label). */
export const FLEET_RECYCLE_KINDS = Object.keys(RECYCLE_KINDS) as RecycleKind[];

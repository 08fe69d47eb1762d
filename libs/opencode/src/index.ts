// The opencode client's public entry: what other code uses of it, nothing more.
export { OpencodeModule } from './opencode.module';
export { OpencodeFleet } from './fleet/opencode-fleet';
export type { FleetLease, FleetRecycle, FleetServerView } from './fleet/opencode-fleet';
export type { FleetServerState } from './fleet/fleet-policy';
export { RedisFleetRegistry } from './fleet/redis-fleet-registry';
export { descendantsOf, isProcessAlive, processTable, processTreeRssMb } from './server/process-tree';
export type { ProcessTable } from './server/process-tree';
export { FleetError, FleetErrorCode } from './fleet/fleet.errors';
export { OpencodeFleetApiModule } from './http/opencode-fleet-api.module';
export { OPENCODE_ENDPOINT, StaticOpencodeEndpoint } from './opencode-endpoint';
export type { OpencodeEndpointSource } from './opencode-endpoint';

export { OpencodeHttpClient } from './client/opencode-http-client';
export { newOpencodeMessageId } from './client/opencode-message-id';

export { OpencodeTurnRunner } from './turn/opencode-turn-runner';
export type { TurnOutcome, TurnPermissionRequest, TurnProgress, TurnRequest, TurnUsageProgress } from './turn/turn.types';
export { classifyProviderTrouble } from './turn/turn-messages';
export type { ProviderTrouble } from './turn/turn-messages';

export { ManagedOpencodeServer } from './server/managed-opencode-server';
export type { ManagedServerRestart } from './server/managed-opencode-server';
export { REHEARSAL_ALT_MODEL, REHEARSAL_FALLBACK_MODEL, REHEARSAL_MODEL } from './server/opencode-server-environment';
export { RehearsalProvider, REHEARSAL_REQUESTS_PATH, REHEARSAL_STATS_PATH } from './rehearsal/rehearsal-provider';
export type { RehearsalProviderOptions, RehearsalProviderStats } from './rehearsal/rehearsal-provider';
export type { ChatCompletionRequest } from './rehearsal/rehearsal-script';

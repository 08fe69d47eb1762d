export { OpencodeModule, OpencodeServerLifecycle, opencodeEndpointFor } from './opencode.module';
export { OPENCODE_ENDPOINT, StaticOpencodeEndpoint } from './opencode-endpoint';
export type { OpencodeEndpoint, OpencodeEndpointSource } from './opencode-endpoint';

export { OpencodeHttpClient } from './client/opencode-http-client';
export type { OpencodeHttpClientOptions } from './client/opencode-http-client';
export { OpencodeError, OpencodeTransportCode } from './client/opencode-error';
export type { OpencodeEventSubscription, SubscribeOptions } from './client/opencode-event-stream';
export { newOpencodeMessageId, OPENCODE_MESSAGE_ID_PATTERN } from './client/opencode-message-id';
export type * from './client/opencode.types';

export { OpencodeTurnRunner } from './turn/opencode-turn-runner';
export { DEFAULT_TURN_TIMINGS } from './turn/turn-follower';
export type { TurnRunnerTimings } from './turn/turn-follower';
export { TurnErrorCode, ZERO_USAGE } from './turn/turn.types';
export {
  buildSessionRuleset,
  DEFAULT_TURN_POLICY,
  HARD_DENIED_PERMISSIONS,
  PERMISSION_ACTIONS,
  READ_ONLY_PERMISSIONS,
} from './turn/permission-ruleset';
export type { OpencodePermissionRule, PermissionAction, TurnPolicy } from './turn/permission-ruleset';
export type {
  RunTurnOptions,
  TurnOutcome,
  TurnPermissionReply,
  TurnPermissionRequest,
  TurnPermissionWithdrawal,
  TurnProgress,
  TurnRef,
  TurnRequest,
  TurnStatus,
  TurnUsage,
} from './turn/turn.types';

export { ManagedOpencodeServer } from './server/managed-opencode-server';
export type { ManagedOpencodeServerOptions, ManagedServerLogger, ManagedServerRestart } from './server/managed-opencode-server';
export { REHEARSAL_MODEL } from './server/opencode-server-environment';
export { RehearsalProvider, REHEARSAL_PROVIDER_ID, REHEARSAL_MODEL_ID, REHEARSAL_REQUESTS_PATH } from './rehearsal/rehearsal-provider';
export type { ChatCompletionRequest } from './rehearsal/rehearsal-script';

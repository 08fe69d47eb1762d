/**
 * The parts of OpenCode's HTTP shapes this adapter reads (measured on opencode 1.18.33).
 * Deliberately partial and loose: OpenCode adds fields freely between versions.
 */

export interface OpencodeHealth {
  healthy: boolean;
  version: string;
}

export interface OpencodeSessionInfo {
  id: string;
  title: string;
  directory: string;
  parentID?: string;
  /** The session's own permission rules (evaluated after the agent's: the last matching rule wins). */
  permission?: OpencodeSessionPermissionRule[];
  time: { created: number; updated: number };
}

/** One rule of a session's permission ruleset (OpenAPI schema PermissionRule). */
export interface OpencodeSessionPermissionRule {
  permission: string;
  pattern: string;
  action: 'allow' | 'ask' | 'deny';
}

export interface OpencodeTokens {
  input: number;
  output: number;
  reasoning: number;
  cache: { read: number; write: number };
  total?: number;
}

/** An error as OpenCode stores it on a message or sends it in `session.error`. */
export interface OpencodeErrorInfo {
  name: string;
  data?: { message?: string; statusCode?: number; isRetryable?: boolean; [key: string]: unknown };
}

export interface OpencodeUserMessageInfo {
  id: string;
  sessionID: string;
  role: 'user';
  time: { created: number };
}

export interface OpencodeAssistantMessageInfo {
  id: string;
  sessionID: string;
  role: 'assistant';
  /** The user message this answer belongs to: every assistant message of one turn shares it. */
  parentID: string;
  modelID: string;
  providerID: string;
  cost: number;
  tokens: OpencodeTokens;
  time: { created: number; completed?: number };
  error?: OpencodeErrorInfo;
  /** stop, tool-calls, length, ... */
  finish?: string;
}

export type OpencodeMessageInfo = OpencodeUserMessageInfo | OpencodeAssistantMessageInfo;

export interface OpencodeToolState {
  status: 'pending' | 'running' | 'completed' | 'error';
  input?: Record<string, unknown>;
  output?: string;
  error?: string;
  title?: string;
  metadata?: Record<string, unknown>;
}

/** One part of a message; `type` says which of the optional fields are set. */
export interface OpencodePart {
  id: string;
  sessionID: string;
  messageID: string;
  /** text, reasoning, tool, step-start, step-finish, patch, file, ... */
  type: string;
  text?: string;
  /** Set on synthetic text parts OpenCode adds itself. */
  synthetic?: boolean;
  tool?: string;
  callID?: string;
  state?: OpencodeToolState;
  /** patch parts: absolute paths written in that step. */
  files?: string[];
  time?: { start?: number; end?: number };
}

export interface OpencodeMessage {
  info: OpencodeMessageInfo;
  parts: OpencodePart[];
}

/** `GET /session/status` lists busy and retrying sessions only; an idle one is absent. */
export type OpencodeSessionStatus =
  | { type: 'idle' }
  | { type: 'busy' }
  | { type: 'retry'; attempt: number; message: string; next: number };

export interface OpencodeFileDiff {
  /** Relative to the session's directory. */
  file: string;
  patch?: string;
  additions: number;
  deletions: number;
  status?: string;
}

/**
 * One server-sent event. `/global/event` wraps it as `{directory, payload}`; the client
 * unwraps it and keeps the directory.
 */
export interface OpencodeEvent {
  type: string;
  properties: Record<string, unknown>;
  id?: string;
  directory?: string;
}

export interface OpencodeModelRef {
  providerID: string;
  modelID: string;
}

export interface OpencodePromptBody {
  /** Caller-chosen id (see newOpencodeMessageId): lets a caller find the turn later. */
  messageID?: string;
  agent: string;
  model?: OpencodeModelRef;
  system?: string;
  /** false switches a tool off for this prompt. */
  tools?: Record<string, boolean>;
  parts: Array<{ type: 'text'; text: string }>;
}

/**
 * A permission request OpenCode waits on (event `permission.asked`, `GET /permission`): a tool
 * call whose permission resolved to `ask`. Answered with `POST /permission/{id}/reply`.
 */
export interface OpencodePermissionRequest {
  /** per_… */
  id: string;
  /** The session whose tool asks: the turn's own, or a subagent's (child) session. */
  sessionID: string;
  /** edit, bash, webfetch, external_directory, … */
  permission: string;
  /** What the call touches, as OpenCode matches rules (paths relative to the work tree root, commands). */
  patterns: string[];
  /** Tool details (e.g. filepath and diff for edit; may be large). */
  metadata?: Record<string, unknown>;
  /** The patterns an `always` reply would allow from then on. */
  always?: string[];
  tool?: { messageID: string; callID: string };
}

/** once: this call; always: this call and later ones matching `always`; reject: refuse (OpenCode stops the turn). */
export type OpencodePermissionReply = 'once' | 'always' | 'reject';


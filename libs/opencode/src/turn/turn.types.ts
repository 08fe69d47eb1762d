/**
 * The turn vocabulary of this adapter. Structurally the same as the session context's
 * CodingAgentPort types (libs/session/src/application/ports/coding-agent.port.ts), declared
 * here so that this library does not depend on the context that uses it.
 */

export interface TurnUsage {
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export interface TurnRequest {
  /** Absolute path of the directory the agent works in. */
  workspace: string;
  title: string;
  prompt: string;
  agent: string;
  /** "provider/model"; undefined: the server's default model. */
  model?: string;
  system?: string;
  disabledTools?: string[];
}

export interface TurnRef {
  opencodeSessionId: string;
  messageId: string;
}

export type TurnStatus = 'completed' | 'failed' | 'aborted' | 'lost';

export interface TurnOutcome {
  status: TurnStatus;
  summary: string;
  filesChanged: string[];
  usage: TurnUsage;
  error?: { code: string; message: string };
}

/** Streamed answer text: `delta` is what the part gained since its previous text progress. */
export interface TurnTextProgress {
  messageId: string;
  partId: string;
  delta: string;
}

export type TurnToolStatus = 'pending' | 'running' | 'completed' | 'error';

/** A tool call changed status. `input` is a one-line summary (e.g. the file path), never file contents. */
export interface TurnToolProgress {
  messageId: string;
  partId: string;
  callId: string;
  tool: string;
  status: TurnToolStatus;
  title?: string;
  input?: string;
  error?: string;
}

/** Files the turn changed: `latest` newly seen, `files` all so far (workspace-relative, sorted). */
export interface TurnFilesProgress {
  files: string[];
  latest: string[];
}

/** What OpenCode is doing with the session: busy, retrying a failing provider, or idle (the turn is over). */
export interface TurnActivityProgress {
  state: 'busy' | 'retry' | 'idle';
  /** retry only: OpenCode's retry counter and the provider's message. */
  retryAttempt?: number;
  message?: string;
}

/** Live progress of a turn, reported in the order OpenCode showed it. */
export type TurnProgress =
  | { kind: 'text'; detail: TurnTextProgress }
  | { kind: 'tool'; detail: TurnToolProgress }
  | { kind: 'files'; detail: TurnFilesProgress }
  | { kind: 'activity'; detail: TurnActivityProgress };

export interface RunTurnOptions {
  signal: AbortSignal;
  resume?: boolean;
  /**
   * Called synchronously, in order, from the events the turn follower receives (text coalesced);
   * every call happens before runTurn resolves. A throwing listener is ignored.
   */
  onProgress?: (progress: TurnProgress) => void;
}

/** Codes of a turn that did not complete. */
export const TurnErrorCode = {
  /** The model provider failed the turn (OpenCode's APIError / ProviderAuthError). */
  PROVIDER_ERROR: 'PROVIDER_ERROR',
  /** OpenCode itself failed the turn or refused the prompt. */
  OPENCODE_ERROR: 'OPENCODE_ERROR',
  /** The server did not answer for longer than the configured window. */
  OPENCODE_UNAVAILABLE: 'OPENCODE_UNAVAILABLE',
  /** The server does not know the session, or the turn was interrupted (e.g. a server restart). */
  OPENCODE_SESSION_LOST: 'OPENCODE_SESSION_LOST',
  /** The workspace directory does not exist. */
  WORKSPACE_MISSING: 'WORKSPACE_MISSING',
  /** Aborted through the caller's signal. */
  ABORTED: 'ABORTED',
} as const;
export type TurnErrorCode = (typeof TurnErrorCode)[keyof typeof TurnErrorCode];

export const ZERO_USAGE: Readonly<TurnUsage> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

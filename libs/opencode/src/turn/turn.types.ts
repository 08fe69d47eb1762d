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

export interface TurnProgress {
  kind: 'text' | 'tool' | 'status' | 'file';
  detail: Record<string, unknown>;
}

export interface RunTurnOptions {
  signal: AbortSignal;
  resume?: boolean;
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

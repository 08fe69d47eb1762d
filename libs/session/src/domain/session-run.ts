/** Token and cost usage of a run, as reported by the coding agent. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export interface SessionResult {
  /** The final assistant text. */
  summary: string;
  /** Workspace-relative paths the run wrote. */
  filesChanged: string[];
}

export interface SessionFailure {
  code: string;
  message: string;
}

export const ZERO_USAGE: TokenUsage = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

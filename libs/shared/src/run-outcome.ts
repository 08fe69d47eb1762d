/**
 * What a coding run leaves behind, in the words every context uses: a turn (opencode), the
 * session that ran it, and the plan task that session belongs to.
 */

/** Token and cost usage, as the coding agent reports it; summed over turns, attempts or sessions. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  costUsd: number;
}

export const ZERO_USAGE: Readonly<TokenUsage> = Object.freeze({
  inputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  costUsd: 0,
});

/** The sum of two usages; null counts as nothing used. */
export function addUsage(a: TokenUsage | null, b: TokenUsage | null): TokenUsage {
  const x = a ?? ZERO_USAGE;
  const y = b ?? ZERO_USAGE;
  return {
    inputTokens: x.inputTokens + y.inputTokens,
    outputTokens: x.outputTokens + y.outputTokens,
    reasoningTokens: x.reasoningTokens + y.reasoningTokens,
    cacheReadTokens: x.cacheReadTokens + y.cacheReadTokens,
    cacheWriteTokens: x.cacheWriteTokens + y.cacheWriteTokens,
    costUsd: x.costUsd + y.costUsd,
  };
}

/** What a run produced (also kept, partial, from a run that failed). */
export interface RunResult {
  /** The final assistant text. */
  summary: string;
  /** Workspace-relative paths the run wrote. */
  filesChanged: string[];
}

/** Why a run (of a session, a task or a plan) did not succeed: a code a program can test, and a message. */
export interface RunFailure {
  code: string;
  message: string;
}

import type { RunFailure, TokenUsage } from '@app/shared';

/**
 * completed: the turn ended normally. failed: the provider or the server failed it.
 * aborted: it was aborted through its signal. lost: the server no longer knows the session or
 * the turn was interrupted (e.g. the server restarted mid-turn). detached: the worker stopped
 * following it and left it running on its server (a planned stop hands it to the next worker):
 * it has not ended, so it has no outcome to record.
 */
export type TurnStatus = 'completed' | 'failed' | 'aborted' | 'lost' | 'detached';

/** How the OpenCode turn of a session's run ended, as the coding server reports it. */
export interface TurnOutcome {
  status: TurnStatus;
  /** Final assistant text (may be empty). */
  summary: string;
  /** Workspace-relative paths written during the turn. */
  filesChanged: string[];
  usage: TokenUsage;
  /**
   * Set unless completed. Code examples: PROVIDER_ERROR, OPENCODE_ERROR, OPENCODE_UNAVAILABLE,
   * OPENCODE_SESSION_LOST, PERMISSION_DENIED (a permission the turn needed was refused, and the
   * server stopped the turn).
   */
  error?: RunFailure;
}

/**
 * Why the worker stopped a turn: the user cancelled, the session's timeout passed, the run lost its
 * workspace lock, a budget was reached, a runaway guard fired (step limit, doom loop, no progress),
 * the provider rate-limited the turn before its first step (the run waits again), the model's
 * quota is exhausted, or the worker stops (a planned stop) and the turn's server stops with it
 * (the session runs again as a new attempt).
 */
export type TurnAbortReason = 'cancel' | 'timeout' | 'lock-lost' | 'budget' | 'runaway' | 'throttled' | 'quota' | 'shutdown';

/** Stops whose failure the worker states itself (TurnCircumstances.stop): budget, runaway guards, quota, a throttle that could not wait. */
export const STATED_STOPS: readonly TurnAbortReason[] = ['budget', 'runaway', 'quota', 'throttled'];

/** What the worker knows about the end of a turn besides its outcome. */
export interface TurnCircumstances {
  /** Set when the worker aborted the turn. */
  abortReason?: TurnAbortReason;
  /** This run picked up the turn after the session's previous worker was lost. */
  resumed: boolean;
  /** Why the workspace lock was lost (with abortReason 'lock-lost'). */
  lockLostReason?: string;
  /** The failure a stated stop records (abortReason budget, runaway or quota): its code and what was reached. */
  stop?: RunFailure;
}

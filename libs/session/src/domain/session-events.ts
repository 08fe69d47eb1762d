import type { RunFailure, RunResult, TokenUsage } from '@app/shared';
import type { SessionOrigin } from './session-origin';
import type { SessionStatus } from './session-status';

/**
 * Domain event: a session changed status. The session records it when it transitions; the
 * repository publishes it once the write that stored it is committed, in the process that wrote it.
 */
export interface SessionTransitioned {
  readonly sessionId: string;
  /** Null for the creation (→ PENDING). */
  readonly from: SessionStatus | null;
  readonly to: SessionStatus;
  readonly reason: string;
  /** The run attempt the transition belongs to. */
  readonly attempt: number;
  readonly at: Date;
  readonly origin: SessionOrigin;
  /**
   * The session as the committed write left it; for a transition another one followed in the same
   * write (a failover's RUNNING → FAILED before its FAILED → QUEUED), as this transition left it.
   */
  readonly session: CommittedSessionState;
}

/** What listeners report of a session after a transition: no prompt, no workspace. */
export interface CommittedSessionState {
  readonly title: string;
  readonly status: SessionStatus;
  readonly attempt: number;
  /** The version the write committed: it orders one session's events (those of one write share it, in history order). */
  readonly version: number;
  readonly agentId: string | null;
  /** The orchestrator agent's name and role when one runs it (null: a plain OpenCode session). */
  readonly agent: { readonly name: string; readonly role: string } | null;
  /** The model asked for (null: the server's default). */
  readonly model: string | null;
  /** The model the attempt ran on (a fallback, or the server's default), once known. */
  readonly modelUsed: string | null;
  readonly opencodeSessionId: string | null;
  readonly result: RunResult | null;
  readonly usage: TokenUsage | null;
  readonly error: RunFailure | null;
  readonly cancelRequestedAt: Date | null;
  readonly queuedAt: Date | null;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  readonly updatedAt: Date;
}

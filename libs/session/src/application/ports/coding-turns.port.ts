/** What the session worker needs from a coding server (OpenCode): open a turn, follow it to its end, and nothing more. */

import type { TokenUsage } from '@app/shared';
import type { SessionTurnPolicy } from '../../domain/session-agent';
import type { TurnOutcome } from '../../domain/turn-outcome';


/**
 * What the orchestrator allows a turn. The adapter makes it the server-side session's permission
 * rules, evaluated after OpenCode's own (a workspace's config cannot loosen them): never a
 * path outside the workspace, never a question to a human; read-only turns get read and search
 * tools only; then the permissions of the orchestrator agent's binding.
 */
export type CodingTurnPolicy = SessionTurnPolicy;

export interface CodingTurnRequest {
  /** Absolute path of the directory the turn works in. */
  workspace: string;
  title: string;
  prompt: string;
  /** The OpenCode agent (build, plan, ...) the turn runs with (the session's opencodeAgent). */
  agent: string;
  /** "provider/model"; undefined means the server's configured default model. */
  model?: string;
  /** Extra system instructions sent with the prompt. */
  system?: string;
  /** Tools switched off for this turn. */
  disabledTools?: string[];
  policy: CodingTurnPolicy;
}

/** Identifies one turn on the coding server; persisted before the prompt is sent. */
export interface CodingTurnRef {
  opencodeSessionId: string;
  messageId: string;
  /** The coding server the turn was placed on, for its whole life; absent on refs from before the fleet. */
  serverId?: string;
}

/** How a turn ended; the session's own type (Session.recordTurnOutcome turns it into the session's final status). */
export type CodingTurnOutcome = TurnOutcome;

/** Streamed answer text: `delta` is what the part gained since its previous text progress. */
export interface CodingTextProgress {
  messageId: string;
  partId: string;
  delta: string;
}

export type CodingToolStatus = 'pending' | 'running' | 'completed' | 'error';

/** A tool call changed status; `input` is a one-line summary (a file path, a command), never file contents. */
export interface CodingToolProgress {
  messageId: string;
  partId: string;
  callId: string;
  tool: string;
  status: CodingToolStatus;
  title?: string;
  input?: string;
  error?: string;
  /** A hash of the tool and its whole input, once known: two identical calls have the same one. */
  signature?: string;
}

/** Files changed so far (`files`) and those first seen now (`latest`), workspace-relative. */
export interface CodingFilesProgress {
  files: string[];
  latest: string[];
}

/** What the coding server does with the session: busy, retrying a failing provider (its retry counter, message), or idle. */
export interface CodingActivityProgress {
  state: 'busy' | 'retry' | 'idle';
  retryAttempt?: number;
  message?: string;
  /** retry only: what troubles the provider (from its message). */
  trouble?: 'rate-limit' | 'quota' | 'overloaded' | 'error';
  /** retry only: when the server tries again (epoch ms; honours the provider's Retry-After). */
  retryAt?: number;
}

/** One finished model step of the turn (or of one of its subagents), and the turn's usage so far. */
export interface CodingUsageProgress {
  step: TokenUsage;
  total: TokenUsage;
  /** Steps of the turn's own session so far. */
  steps: number;
  /** "provider/model" of the step, when known. */
  model?: string;
}

/** Live progress of a turn, in the order the server showed it (text coalesced). */
export type CodingTurnProgress =
  | { kind: 'text'; detail: CodingTextProgress }
  | { kind: 'tool'; detail: CodingToolProgress }
  | { kind: 'files'; detail: CodingFilesProgress }
  | { kind: 'activity'; detail: CodingActivityProgress }
  | { kind: 'usage'; detail: CodingUsageProgress };

/** A permission the coding server waits on during the turn (asked by the turn's session or a subagent's). */
export interface CodingPermissionRequest {
  /** The server's request id: one decision per request. */
  requestId: string;
  /** The server-side session that asks (the turn's, or a subagent's). */
  opencodeSessionId: string;
  /** edit, bash, webfetch, external_directory, … */
  permission: string;
  patterns: string[];
  /** One line for a human, e.g. "edit src/a.ts". */
  title: string;
  /** Small details of the call (a file path, a cut diff, a command). */
  metadata: Record<string, unknown>;
}

/** once: allow this call; always: and later matching calls of the session; reject: refuse (the turn stops). */
export type CodingPermissionReply = 'once' | 'always' | 'reject';

/**
 * Why the answer is no longer wanted (the reason of onPermission's signal): the turn ended, or
 * the server settled the request by itself (an earlier `always` covered it, another answer came
 * first), or the run was detached (the request stays pending, for the worker that follows the turn next).
 */
export type CodingPermissionWithdrawal = { kind: 'turn-ended' } | { kind: 'settled'; reply: CodingPermissionReply } | { kind: 'detached' };

export interface RunTurnOptions {
  /** Aborting it aborts the turn on the server; runTurn then resolves with status 'aborted'. */
  signal: AbortSignal;
  /**
   * Aborting it stops following the turn and leaves it running on its server, permission requests
   * unanswered, for another worker to follow (with `resume`); runTurn then resolves at once with
   * status 'detached'. Only for a turn whose server outlives this worker (outlivesWorker).
   */
  detach?: AbortSignal;
  /** True when this turn may already have been sent (a job resumed after a worker was lost). */
  resume?: boolean;
  /**
   * Live progress, called synchronously and in order; every call happens before runTurn
   * resolves, so whatever the callback publishes goes out before the outcome is recorded.
   */
  onProgress?: (progress: CodingTurnProgress) => void;
  /**
   * Decides a permission request (once per request, also one found pending on resume). Without
   * it, or when it throws, the request is refused at once. `signal` aborts, with a
   * CodingPermissionWithdrawal as its reason, when the answer is no longer wanted.
   */
  onPermission?: (request: CodingPermissionRequest, signal: AbortSignal) => Promise<CodingPermissionReply>;
}

/** The coding server's turns, as the session worker uses them (adapter: OpencodeCodingTurnsAdapter). */
export interface CodingTurnsPort {
  /** Creates the server-side session and picks the turn's message id; sends nothing yet. */
  openTurn(request: CodingTurnRequest): Promise<CodingTurnRef>;
  /**
   * Sends the prompt (unless resume finds it was already sent) and follows the turn to its end.
   * Never rejects for turn failures: they come back as an outcome. Rejects only on programming errors.
   */
  runTurn(ref: CodingTurnRef, request: CodingTurnRequest, options: RunTurnOptions): Promise<CodingTurnOutcome>;
  /**
   * Whether the turn's server goes on running when this worker process stops (a server someone
   * else runs), so that another worker can follow the turn to its end; false for a server this
   * process manages (it stops with the process) or one it does not know.
   */
  outlivesWorker(ref: CodingTurnRef): boolean;
  /** Whether the server answers its health check. */
  isHealthy(): Promise<boolean>;
  /** "provider/model" a turn without a model runs on (the servers' default), when known. */
  defaultModel(): string | null;
  /**
   * Frees what the server keeps for a directory no turn will use any more (a removed worktree
   * slot); rejects when the server cannot be reached.
   */
  releaseDirectory(directory: string): Promise<boolean>;
}

export const CODING_TURNS = Symbol('CODING_TURNS');

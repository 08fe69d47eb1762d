/**
 * The turn vocabulary of this adapter. Structurally the same as the session context's
 * CodingTurnsPort types (libs/session/src/application/ports/coding-turns.port.ts), declared
 * here so that this library does not depend on the context that uses it.
 */

import type { RunFailure, TokenUsage } from '@app/shared';
import type { TurnPolicy } from './permission-ruleset';

export type { TurnPolicy } from './permission-ruleset';

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
  /**
   * What the orchestrator allows the turn, sent as the OpenCode session's permission ruleset
   * (see permission-ruleset.ts). Undefined: a writing turn, still without external directories.
   */
  policy?: TurnPolicy;
}

export interface TurnRef {
  opencodeSessionId: string;
  messageId: string;
}

/** detached: the follower was detached (RunTurnOptions.detach) and left the turn running on the server. */
export type TurnStatus = 'completed' | 'failed' | 'aborted' | 'lost' | 'detached';

export interface TurnOutcome {
  status: TurnStatus;
  summary: string;
  filesChanged: string[];
  usage: TokenUsage;
  error?: RunFailure;
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
  /**
   * Stable hash (sha256 hex, first 16 characters) of the tool name and the canonical JSON (sorted
   * keys) of its FULL input, once the input is known (running, completed, error): two identical
   * calls share it, any difference in the input changes it (the orchestrator's repeated-call guard).
   */
  signature?: string;
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
  /** retry only: what the provider's message says is wrong (classifyProviderTrouble). */
  trouble?: 'rate-limit' | 'quota' | 'overloaded' | 'error';
  /** retry only: when OpenCode tries again (epoch ms; OpenCode honours the provider's retry-after). */
  retryAt?: number;
}

/** One finished model step (OpenCode's step-finish part) of the turn or of one of its subagents. */
export interface TurnUsageProgress {
  /** This step's usage. */
  step: TokenUsage;
  /** The turn's usage so far: every step seen of the turn's session and its subagents' sessions. */
  total: TokenUsage;
  /** Steps of the turn's own session so far (subagents' steps not counted). */
  steps: number;
  /** "provider/model" of the message the step belongs to, when known. */
  model?: string;
}

/** Live progress of a turn, reported in the order OpenCode showed it. */
export type TurnProgress =
  | { kind: 'text'; detail: TurnTextProgress }
  | { kind: 'tool'; detail: TurnToolProgress }
  | { kind: 'files'; detail: TurnFilesProgress }
  | { kind: 'activity'; detail: TurnActivityProgress }
  | { kind: 'usage'; detail: TurnUsageProgress };

/** A permission OpenCode waits on during the turn (asked by the turn's session or by a subagent's). */
export interface TurnPermissionRequest {
  /** OpenCode's request id (per_…): the same request is never handed over twice by one follower. */
  requestId: string;
  /** The OpenCode session that asks: the turn's own, or a subagent's (child) session. */
  opencodeSessionId: string;
  /** edit, bash, webfetch, external_directory, … */
  permission: string;
  /** What the call touches, as OpenCode matches its rules. */
  patterns: string[];
  /** One line for a human: the permission and what it touches (a workspace-relative path, a command, a URL). */
  title: string;
  /** OpenCode's details of the call, small values only (long strings cut, nested objects left out). */
  metadata: Record<string, unknown>;
}

/** once: this call only; always: also later calls OpenCode matches to it in this session; reject: refuse. */
export type TurnPermissionReply = 'once' | 'always' | 'reject';

/**
 * The reason of the signal given to onPermission when the follower stops waiting for its answer:
 * the turn ended (completed, failed, aborted), or OpenCode settled the request without it (an
 * earlier `always` covered it, or another answer reached OpenCode first), or the follower was
 * detached (the request stays pending on the server, for the turn's next follower).
 */
export type TurnPermissionWithdrawal = { kind: 'turn-ended' } | { kind: 'settled'; reply: TurnPermissionReply } | { kind: 'detached' };

export interface RunTurnOptions {
  signal: AbortSignal;
  /**
   * Aborting it stops following the turn and leaves it running on the server, its pending
   * permission requests unanswered (another follower, with `resume`, takes it from there);
   * runTurn then resolves at once with status 'detached'. Nothing is sent after it aborts.
   */
  detach?: AbortSignal;
  resume?: boolean;
  /**
   * Called synchronously, in order, from the events the turn follower receives (text coalesced);
   * every call happens before runTurn resolves. A throwing listener is ignored.
   */
  onProgress?: (progress: TurnProgress) => void;
  /**
   * Decides a permission request; the follower sends the answer to OpenCode. Called once per
   * request (also for one asked while nobody followed the turn, found on resume). Without it,
   * or when it throws, the request is rejected at once: nothing ever waits on a human unseen.
   * `signal` aborts (reason: TurnPermissionWithdrawal) when the answer is no longer wanted.
   */
  onPermission?: (request: TurnPermissionRequest, signal: AbortSignal) => Promise<TurnPermissionReply>;
}

/** Codes of a turn that did not complete. */
export const TurnErrorCode = {
  /** The model provider failed the turn (OpenCode's APIError / ProviderAuthError). */
  PROVIDER_ERROR: 'PROVIDER_ERROR',
  /** The provider refused for want of quota or credit (e.g. HTTP 429 insufficient_quota): waiting does not help. */
  PROVIDER_QUOTA_EXHAUSTED: 'PROVIDER_QUOTA_EXHAUSTED',
  /** The provider kept rate-limiting the turn (HTTP 429) past the retries allowed. */
  PROVIDER_RATE_LIMITED: 'PROVIDER_RATE_LIMITED',
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
  /** A permission the turn needed was refused (rejected or unanswered), and OpenCode stopped the turn. */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
} as const;
export type TurnErrorCode = (typeof TurnErrorCode)[keyof typeof TurnErrorCode];

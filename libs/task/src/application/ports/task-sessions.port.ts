import type { RunFailure, RunResult, TokenUsage } from '@app/shared';
import type { TaskRole } from '../../domain/task-spec';

/** The session statuses (the session context's SessionStatus values). */
export type TaskSessionStatus = 'PENDING' | 'QUEUED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'TIMED_OUT' | 'CANCELLED';

/** What the scheduler reads of a task's session. */
export interface TaskSessionView {
  id: string;
  status: TaskSessionStatus;
  /** The session's run attempt (1, then + 1 per retry). */
  attempt: number;
  agentId: string | null;
  prompt: string;
  result: RunResult | null;
  usage: TokenUsage | null;
  error: RunFailure | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** What its run committed on its own branch (a session in a git worktree); null in a shared workspace. */
  changes: TaskSessionChanges | null;
}

/** A worktree session's branch and what its commits changed since the commit it was made from. */
export interface TaskSessionChanges {
  branch: string;
  baseCommit: string;
  headCommit: string;
  files: string[];
  insertions: number;
  deletions: number;
}

/**
 * Where a task session works in a git workspace: its own worktree on its own branch made from
 * `baseRef` (the plan's integration branch), with `mergeIn` (a branch) merged in first and its
 * conflicts left in the files for the agent to resolve (a resolver session).
 */
export interface TaskSessionWorktree {
  baseRef: string;
  mergeIn?: string | null;
}

export interface CreateTaskSession {
  title: string;
  prompt: string;
  workspace: string;
  role: TaskRole;
  skills: string[];
  complexity: number;
  /** The task it is for (the session's origin); a Debugger retry names the failed session it follows up. */
  origin: { planId: string; taskKey: string; retryOf: string | null };
  /** The plan's key id: a task session is made on behalf of whoever made the plan. */
  createdByKeyId: string | null;
  /** Given for a plan in a git workspace; without it the session shares the workspace (under its lock). */
  worktree?: TaskSessionWorktree;
}

/**
 * `waiting`: no agent can take it now (every agent of the role runs as many sessions as the agent's
 * own maxConcurrentSessions allows); the scheduler tries again at a later tick. Any other reason it
 * cannot be made is thrown.
 */
export type CreateTaskSessionOutcome = { session: TaskSessionView } | { waiting: string };

/** What the task context needs from the session context. */
export interface TaskSessionsPort {
  /** A PENDING session routed to an agent by role and skills. */
  create(command: CreateTaskSession): Promise<CreateTaskSessionOutcome>;
  /** PENDING → QUEUED; no-op when the session is past PENDING already. */
  start(sessionId: string): Promise<void>;
  /** Cancels a session that is not final yet; no-op otherwise. */
  cancel(sessionId: string): Promise<void>;
  /** Runs a FAILED or TIMED_OUT session again as its next attempt (QUEUED). */
  retry(sessionId: string): Promise<void>;
  /** Null when it does not exist (or was deleted). */
  get(sessionId: string): Promise<TaskSessionView | null>;
  /**
   * Records that the session's branch was merged (into the plan's integration branch, as `commit`)
   * and removes the branch; no-op when it is merged or discarded already.
   */
  markMerged(sessionId: string, merge: { target: string; commit: string }): Promise<void>;
  /** Which of these sessions are not finished yet (deleted ones included; one that does not exist is not listed). */
  unfinished(sessionIds: readonly string[]): Promise<string[]>;
}

export const TASK_SESSIONS = Symbol('TASK_SESSIONS');

/**
 * Failures of the infrastructure, not of the work: the same session is simply run again (up to
 * INFRASTRUCTURE_ATTEMPTS attempts) rather than spending the task's Debugger retry on them.
 */
export const INFRASTRUCTURE_FAILURES: readonly string[] = ['WORKER_LOST', 'WORKSPACE_LOCK_LOST', 'OPENCODE_UNAVAILABLE'];
export const INFRASTRUCTURE_ATTEMPTS = 3;

export const FINAL_SESSION_STATUSES: readonly TaskSessionStatus[] = ['COMPLETED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

/**
 * Live session events, across processes: transitions (published by whichever process commits
 * them) and a running turn's progress (published by the worker that runs it). Nothing is stored:
 * a subscriber sees what is published while it listens (GET /api/v1/sessions/:id/events keeps
 * the transition history).
 */

import type { RunFailure, RunResult, TokenUsage } from '@app/shared';
import type { SessionTransitioned } from '../../domain/session-events';
import { SessionStatus } from '../../domain/session-status';
import type {
  CodingActivityProgress,
  CodingFilesProgress,
  CodingTextProgress,
  CodingToolProgress,
  CodingTurnProgress,
  CodingUsageProgress,
} from './coding-turns.port';

export const SESSION_EVENT_TYPES = ['transition', 'text', 'tool', 'files', 'activity', 'usage', 'budget', 'approval'] as const;
export type SessionEventType = (typeof SESSION_EVENT_TYPES)[number];

interface EventEnvelope<T extends SessionEventType, D> {
  sessionId: string;
  type: T;
  /** Transitions only: the session's version once the transition was committed (increases per session). */
  seq?: number;
  /** ISO time: of the transition, or when the worker saw the progress. */
  at: string;
  data: D;
}

/** The session as it stands after a transition: what a fleet view needs, without the prompt. */
export interface SessionStateSummary {
  id: string;
  title: string;
  status: SessionStatus;
  attempt: number;
  version: number;
  agentId: string | null;
  opencodeSessionId: string | null;
  result: RunResult | null;
  usage: TokenUsage | null;
  error: RunFailure | null;
  cancelRequestedAt: string | null;
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
}

export interface TransitionEventData {
  from: SessionStatus | null;
  to: SessionStatus;
  reason: string;
  attempt: number;
  session: SessionStateSummary;
}

/** Progress of a run carries the attempt it belongs to. */
type OfAttempt<D> = D & { attempt: number };

export type SessionTransitionEvent = EventEnvelope<'transition', TransitionEventData> & { seq: number };
export type SessionTextEvent = EventEnvelope<'text', OfAttempt<CodingTextProgress>>;
export type SessionToolEvent = EventEnvelope<'tool', OfAttempt<CodingToolProgress>>;
export type SessionFilesEvent = EventEnvelope<'files', OfAttempt<CodingFilesProgress>>;
export type SessionActivityEvent = EventEnvelope<'activity', OfAttempt<CodingActivityProgress>>;
export type SessionUsageEvent = EventEnvelope<'usage', OfAttempt<CodingUsageProgress>>;
export type SessionProgressEvent = SessionTextEvent | SessionToolEvent | SessionFilesEvent | SessionActivityEvent | SessionUsageEvent;

/** A budget the run counts against passed 80% (warning) or was reached (exceeded: the turn is stopped). */
export interface BudgetEventData {
  attempt: number;
  state: 'warning' | 'exceeded';
  /** SESSION, PLAN, AGENT or KEY. */
  scope: string;
  scopeId: string;
  /** maxTokens, maxCostUsd or maxMinutes. */
  limit: string;
  message: string;
}
export type SessionBudgetEvent = EventEnvelope<'budget', BudgetEventData>;

/** One live event of one session, as published and as sent to stream clients. */
export type SessionLiveEvent = SessionTransitionEvent | SessionProgressEvent | SessionApprovalEvent | SessionBudgetEvent;

/** Which events a subscriber wants; an empty or missing list means all. */
export interface SessionEventFilter {
  sessionIds?: readonly string[];
  types?: readonly SessionEventType[];
}

export type SessionEventListener = (event: SessionLiveEvent) => void;

export interface SessionEventSubscribeOptions {
  /**
   * Events may have been lost (the subscriber connection dropped and came back): a listener
   * that keeps state should re-read it.
   */
  onGap?: () => void;
}

export interface SessionEventsPort {
  /**
   * Publishes to every subscriber of every process. Events published from one process reach
   * each subscriber in the order of the publish calls (so a caller need not await one before
   * the next). Rejects when the transport fails; callers treat events as best effort.
   */
  publish(event: SessionLiveEvent): Promise<void>;
  /**
   * Resolves once the listener is live: every event published after that reaches it (until a
   * gap). Returns the function that unsubscribes. Rejects with SessionEventsUnavailableError
   * when the transport cannot subscribe.
   */
  subscribe(filter: SessionEventFilter, listener: SessionEventListener, options?: SessionEventSubscribeOptions): Promise<() => void>;
}

export const SESSION_EVENTS = Symbol('SESSION_EVENTS');

/** The event transport cannot subscribe (e.g. Redis does not answer); retrying later may work. */
export class SessionEventsUnavailableError extends Error {
  override readonly name = 'SessionEventsUnavailableError';
}

export function matchesFilter(event: SessionLiveEvent, filter: SessionEventFilter): boolean {
  if (filter.sessionIds?.length && !filter.sessionIds.includes(event.sessionId)) return false;
  if (filter.types?.length && !filter.types.includes(event.type)) return false;
  return true;
}

/** The live event of a committed transition; its `seq` is the version of the write that made it. */
export function transitionEvent(event: SessionTransitioned): SessionTransitionEvent {
  const { from, to, reason, attempt } = event;
  return {
    sessionId: event.sessionId,
    type: 'transition',
    seq: event.session.version,
    at: event.at.toISOString(),
    data: { from, to, reason, attempt, session: summarize(event) },
  };
}

/**
 * An approval of the run was opened (status PENDING) or decided: the turn waits on a person
 * while it is PENDING (answer it with POST /api/v1/approvals/:id).
 */
export interface ApprovalEventData {
  attempt: number;
  approvalId: string;
  permission: string;
  patterns: string[];
  title: string;
  /** PENDING, ALLOWED, DENIED, EXPIRED or CANCELLED. */
  status: string;
  expiresAt: string;
  /** Decided only: key, timeout, session-ended or opencode. */
  decidedBy?: string;
  /** Decided by a key: its id (null with auth off). */
  answeredByKeyId?: string | null;
}

export type SessionApprovalEvent = EventEnvelope<'approval', ApprovalEventData>;

/** The event of one piece of a run's progress. */
export function progressEvent(
  sessionId: string,
  attempt: number,
  progress: CodingTurnProgress,
  at = new Date(),
): SessionProgressEvent {
  const base = { sessionId, at: at.toISOString() };
  switch (progress.kind) {
    case 'text':
      return { ...base, type: 'text', data: { ...progress.detail, attempt } };
    case 'tool':
      return { ...base, type: 'tool', data: { ...progress.detail, attempt } };
    case 'files':
      return { ...base, type: 'files', data: { ...progress.detail, attempt } };
    case 'activity':
      return { ...base, type: 'activity', data: { ...progress.detail, attempt } };
    case 'usage':
      return { ...base, type: 'usage', data: { ...progress.detail, attempt } };
  }
}

export function budgetEvent(sessionId: string, data: BudgetEventData, at = new Date()): SessionBudgetEvent {
  return { sessionId, type: 'budget', at: at.toISOString(), data };
}

export function approvalEvent(sessionId: string, data: ApprovalEventData, at = new Date()): SessionApprovalEvent {
  return { sessionId, type: 'approval', at: at.toISOString(), data };
}

function summarize({ sessionId, session: s }: SessionTransitioned): SessionStateSummary {
  return {
    id: sessionId,
    title: s.title,
    status: s.status,
    attempt: s.attempt,
    version: s.version,
    agentId: s.agentId,
    opencodeSessionId: s.opencodeSessionId,
    result: s.result,
    usage: s.usage,
    error: s.error,
    cancelRequestedAt: iso(s.cancelRequestedAt),
    queuedAt: iso(s.queuedAt),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    updatedAt: s.updatedAt.toISOString(),
  };
}

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

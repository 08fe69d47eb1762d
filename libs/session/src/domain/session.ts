import { randomUUID } from 'node:crypto';
import { SessionAgentAssignment } from './session-agent';
import { SessionFailure, SessionResult, TokenUsage } from './session-run';
import { canTransition, SessionStatus } from './session-status';
import { RunFailureCode, SessionError, SessionErrorCode } from './session.errors';

/** One recorded change of status; appended to session_events, never changed. */
export interface SessionTransition {
  from: SessionStatus | null;
  to: SessionStatus;
  reason: string;
  attempt: number;
  at: Date;
}

export interface SessionProps {
  id: string;
  title: string;
  prompt: string;
  workspace: string;
  /** The OpenCode agent the prompt is sent to. */
  agent: string;
  model: string | null;
  /** The orchestrator agent that runs it (null: a plain OpenCode session). */
  agentId: string | null;
  assignment: SessionAgentAssignment | null;
  timeoutSeconds: number;
  metadata: Record<string, unknown>;
  /** The API key that made it (BOOTSTRAP_KEY_ID for API_KEY; null with authentication off). */
  createdByKeyId: string | null;
  status: SessionStatus;
  attempt: number;
  version: number;
  opencodeSessionId: string | null;
  opencodeMessageId: string | null;
  result: SessionResult | null;
  usage: TokenUsage | null;
  error: SessionFailure | null;
  cancelRequestedAt: Date | null;
  queuedAt: Date | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface CreateSessionInput {
  title: string;
  prompt: string;
  workspace: string;
  agent: string;
  model?: string | null;
  assignment?: SessionAgentAssignment | null;
  timeoutSeconds: number;
  metadata?: Record<string, unknown>;
  createdByKeyId?: string | null;
}

/**
 * The session aggregate. Its status changes only through the methods below, each of
 * which checks the one transition table and records the transition.
 */
export class Session {
  private pending: SessionTransition[] = [];

  private constructor(private props: SessionProps) {}

  static create(input: CreateSessionInput, now = new Date()): Session {
    const session = new Session({
      id: randomUUID(),
      title: input.title,
      prompt: input.prompt,
      workspace: input.workspace,
      agent: input.agent,
      model: input.model ?? null,
      agentId: input.assignment?.agentId ?? null,
      assignment: input.assignment ?? null,
      timeoutSeconds: input.timeoutSeconds,
      metadata: input.metadata ?? {},
      createdByKeyId: input.createdByKeyId ?? null,
      status: SessionStatus.PENDING,
      attempt: 1,
      version: 1,
      opencodeSessionId: null,
      opencodeMessageId: null,
      result: null,
      usage: null,
      error: null,
      cancelRequestedAt: null,
      queuedAt: null,
      startedAt: null,
      finishedAt: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    session.pending.push({ from: null, to: SessionStatus.PENDING, reason: 'created', attempt: 1, at: now });
    return session;
  }

  /** Rebuilds a session from storage; records nothing. */
  static restore(props: SessionProps): Session {
    return new Session({ ...props });
  }

  get id(): string {
    return this.props.id;
  }
  get status(): SessionStatus {
    return this.props.status;
  }
  get attempt(): number {
    return this.props.attempt;
  }
  get version(): number {
    return this.props.version;
  }
  get workspace(): string {
    return this.props.workspace;
  }
  get isDeleted(): boolean {
    return this.props.deletedAt !== null;
  }
  get cancelRequested(): boolean {
    return this.props.cancelRequestedAt !== null;
  }

  /** A read-only copy of the state, for mappers and responses. */
  snapshot(): Readonly<SessionProps> {
    return { ...this.props };
  }

  /** Called by the repository after a successful version-checked write. */
  persisted(version: number): void {
    this.props.version = version;
  }

  /** Transitions recorded since the last call; the repository stores them with the row. */
  pullTransitions(): SessionTransition[] {
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** PENDING → QUEUED. */
  queue(now = new Date()): void {
    this.transition(SessionStatus.QUEUED, 'start requested', now, [SessionStatus.PENDING]);
    this.props.queuedAt = now;
  }

  /** FAILED | TIMED_OUT | CANCELLED → QUEUED, as a new attempt with a clean slate. */
  retry(now = new Date()): void {
    this.assertCan(SessionStatus.QUEUED, [SessionStatus.FAILED, SessionStatus.TIMED_OUT, SessionStatus.CANCELLED]);
    this.props.attempt += 1;
    Object.assign(this.props, {
      opencodeSessionId: null,
      opencodeMessageId: null,
      result: null,
      usage: null,
      error: null,
      cancelRequestedAt: null,
      startedAt: null,
      finishedAt: null,
      queuedAt: now,
    });
    this.transition(SessionStatus.QUEUED, `retry (attempt ${this.props.attempt})`, now);
  }

  /** QUEUED → RUNNING, when a worker picks the session up. */
  markRunning(now = new Date()): void {
    this.transition(SessionStatus.RUNNING, 'picked up by a worker', now);
    this.props.startedAt = now;
  }

  /** Records which OpenCode turn runs this attempt, before the prompt is sent. */
  attachTurn(opencodeSessionId: string, opencodeMessageId: string, now = new Date()): void {
    this.assertStatus(SessionStatus.RUNNING, 'attach an OpenCode turn');
    this.props.opencodeSessionId = opencodeSessionId;
    this.props.opencodeMessageId = opencodeMessageId;
    this.props.updatedAt = now;
  }

  complete(result: SessionResult, usage: TokenUsage, now = new Date()): void {
    this.transition(SessionStatus.COMPLETED, 'turn completed', now);
    this.finish(now, { result, usage, error: null });
  }

  fail(error: SessionFailure, usage: TokenUsage | null, now = new Date(), partial?: SessionResult): void {
    this.transition(SessionStatus.FAILED, `${error.code}: ${error.message}`, now);
    this.finish(now, { result: partial ?? null, usage, error });
  }

  timeOut(usage: TokenUsage | null, now = new Date(), partial?: SessionResult): void {
    const message = `no result within ${this.props.timeoutSeconds}s; the OpenCode turn was aborted`;
    this.transition(SessionStatus.TIMED_OUT, message, now, [SessionStatus.RUNNING]);
    this.finish(now, { result: partial ?? null, usage, error: { code: RunFailureCode.TIMED_OUT, message } });
  }

  /** QUEUED → TIMED_OUT: it waited its whole timeout for a workspace that other sessions held. */
  timeOutWaiting(waitedFor: string, now = new Date()): void {
    const message = `${waitedFor} stayed locked by other sessions for ${this.props.timeoutSeconds}s; the session never ran`;
    this.transition(SessionStatus.TIMED_OUT, message, now, [SessionStatus.QUEUED]);
    this.finish(now, { result: null, usage: null, error: { code: RunFailureCode.WORKSPACE_BUSY, message } });
  }

  /** PENDING | QUEUED | RUNNING → CANCELLED. */
  cancel(reason: string, usage: TokenUsage | null = null, now = new Date(), partial?: SessionResult): void {
    this.transition(SessionStatus.CANCELLED, reason, now);
    this.finish(now, { result: partial ?? null, usage, error: { code: RunFailureCode.CANCELLED, message: reason } });
  }

  /** A RUNNING session is cancelled by its worker; this asks it to. Idempotent. */
  requestCancel(now = new Date()): void {
    this.assertStatus(SessionStatus.RUNNING, 'request cancellation');
    this.props.cancelRequestedAt ??= now;
    this.props.updatedAt = now;
  }

  /** Title and metadata are the only fields a user may change. */
  edit(changes: { title?: string; metadata?: Record<string, unknown> }, now = new Date()): void {
    if (changes.title !== undefined) this.props.title = changes.title;
    if (changes.metadata !== undefined) this.props.metadata = changes.metadata;
    this.props.updatedAt = now;
  }

  softDelete(now = new Date()): void {
    if (this.props.status === SessionStatus.RUNNING) {
      throw new SessionError(
        SessionErrorCode.SESSION_RUNNING,
        `Session ${this.id} is RUNNING; cancel it before deleting it`,
        { id: this.id, status: this.status },
      );
    }
    this.props.deletedAt = now;
    this.props.updatedAt = now;
  }

  private finish(now: Date, outcome: Pick<SessionProps, 'result' | 'usage' | 'error'>): void {
    Object.assign(this.props, outcome, { finishedAt: now });
  }

  private transition(to: SessionStatus, reason: string, now: Date, onlyFrom?: SessionStatus[]): void {
    this.assertCan(to, onlyFrom);
    const from = this.props.status;
    this.props.status = to;
    this.props.updatedAt = now;
    this.pending.push({ from, to, reason, attempt: this.props.attempt, at: now });
  }

  private assertCan(to: SessionStatus, onlyFrom?: SessionStatus[]): void {
    const from = this.props.status;
    if (!canTransition(from, to) || (onlyFrom && !onlyFrom.includes(from))) {
      throw new SessionError(
        SessionErrorCode.INVALID_TRANSITION,
        `Session ${this.id} cannot go from ${from} to ${to}`,
        { id: this.id, from, to },
      );
    }
  }

  private assertStatus(expected: SessionStatus, action: string): void {
    if (this.props.status !== expected) {
      throw new SessionError(
        SessionErrorCode.INVALID_TRANSITION,
        `Cannot ${action}: session ${this.id} is ${this.props.status}, not ${expected}`,
        { id: this.id, status: this.props.status },
      );
    }
  }
}

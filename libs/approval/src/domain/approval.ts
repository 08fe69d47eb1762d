import { randomUUID } from 'node:crypto';
import { ApprovalDecider, ApprovalStatus, canTransition } from './approval-status';
import { ApprovalError } from './approval.errors';

export interface ApprovalProps {
  id: string;
  sessionId: string;
  /** The session's attempt (run) that asked. */
  attempt: number;
  /** OpenCode's permission request id (per_…): one approval per request and session. */
  opencodeRequestId: string;
  /** edit, bash, webfetch, external_directory, … */
  permission: string;
  patterns: string[];
  /** One line for a human, e.g. "edit src/a.ts". */
  title: string;
  /** OpenCode's details of the call (small values only, e.g. the file path and a cut diff). */
  metadata: Record<string, unknown>;
  status: ApprovalStatus;
  /** allow + remember: OpenCode also allows later matching calls of that session ("always"). */
  remember: boolean;
  createdAt: Date;
  /** PENDING past this instant: EXPIRED (denied). */
  expiresAt: Date;
  /** When it was decided, however (answer, timeout, end of the turn). */
  answeredAt: Date | null;
  /** The API key that answered (decidedBy key); null otherwise, and with auth off. */
  answeredByKeyId: string | null;
  decidedBy: ApprovalDecider | null;
  version: number;
}

export interface OpenApprovalInput {
  sessionId: string;
  attempt: number;
  opencodeRequestId: string;
  permission: string;
  patterns: readonly string[];
  title: string;
  metadata?: Record<string, unknown>;
  /** How long it may stay PENDING. */
  timeoutMs: number;
}

export type ApprovalDecision = 'allow' | 'deny';

const MAX_TITLE_LENGTH = 300;
const MAX_PATTERNS = 50;
const MAX_PATTERN_LENGTH = 1_000;
const MAX_PERMISSION_LENGTH = 100;

/**
 * One permission request of an OpenCode turn, waiting for a person. PENDING until answered
 * (allow / deny, by an API key), expired, cancelled (its turn ended) or settled by OpenCode.
 * Every change goes through the one transition table; an approval is decided once.
 */
export class Approval {
  private constructor(private props: ApprovalProps) {}

  static open(input: OpenApprovalInput, now = new Date()): Approval {
    return new Approval({
      id: randomUUID(),
      sessionId: input.sessionId,
      attempt: input.attempt,
      opencodeRequestId: input.opencodeRequestId,
      permission: cut(input.permission, MAX_PERMISSION_LENGTH),
      patterns: input.patterns.slice(0, MAX_PATTERNS).map((p) => cut(p, MAX_PATTERN_LENGTH)),
      title: cut(input.title.trim() || input.permission, MAX_TITLE_LENGTH),
      metadata: { ...(input.metadata ?? {}) },
      status: ApprovalStatus.PENDING,
      remember: false,
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.timeoutMs),
      answeredAt: null,
      answeredByKeyId: null,
      decidedBy: null,
      version: 1,
    });
  }

  /** Rebuilds an approval from storage. */
  static restore(props: ApprovalProps): Approval {
    return new Approval({ ...props, patterns: [...props.patterns], metadata: { ...props.metadata } });
  }

  get id(): string {
    return this.props.id;
  }
  get sessionId(): string {
    return this.props.sessionId;
  }
  get attempt(): number {
    return this.props.attempt;
  }
  get status(): ApprovalStatus {
    return this.props.status;
  }
  get version(): number {
    return this.props.version;
  }
  get expiresAt(): Date {
    return this.props.expiresAt;
  }
  get isPending(): boolean {
    return this.props.status === ApprovalStatus.PENDING;
  }

  /** PENDING past its expiry: only a timeout can decide it now. */
  isOverdue(now = new Date()): boolean {
    return this.isPending && now.getTime() >= this.props.expiresAt.getTime();
  }

  /** What OpenCode is told: allowed (once, or always when remembered), anything else refused. */
  get reply(): 'once' | 'always' | 'reject' {
    if (this.props.status !== ApprovalStatus.ALLOWED) return 'reject';
    return this.props.remember ? 'always' : 'once';
  }

  snapshot(): Readonly<ApprovalProps> {
    return { ...this.props, patterns: [...this.props.patterns], metadata: { ...this.props.metadata } };
  }

  /** A person's answer through the API. `remember` only means something with allow. */
  answer(decision: ApprovalDecision, options: { remember?: boolean; keyId: string | null }, now = new Date()): void {
    if (this.isOverdue(now)) {
      // Too late: the worker expires it (or already has); the answer does not count.
      throw ApprovalError.alreadyDecided(this.id, ApprovalStatus.EXPIRED, 'timeout');
    }
    const to = decision === 'allow' ? ApprovalStatus.ALLOWED : ApprovalStatus.DENIED;
    this.decide(to, 'key', now);
    this.props.remember = decision === 'allow' && options.remember === true;
    this.props.answeredByKeyId = options.keyId;
  }

  /** Nobody answered in time: denied. */
  expire(now = new Date()): void {
    this.decide(ApprovalStatus.EXPIRED, 'timeout', now);
  }

  /** The turn ended before an answer: nobody waits for one any more. */
  cancel(now = new Date()): void {
    this.decide(ApprovalStatus.CANCELLED, 'session-ended', now);
  }

  /** OpenCode settled the request without this approval's answer (e.g. an earlier "always" covered it). */
  settleByOpencode(allowed: boolean, now = new Date()): void {
    this.decide(allowed ? ApprovalStatus.ALLOWED : ApprovalStatus.DENIED, 'opencode', now);
  }

  /** After a write: the version the store holds now. */
  persisted(version: number): void {
    this.props.version = version;
  }

  private decide(to: ApprovalStatus, by: ApprovalDecider, now: Date): void {
    if (!canTransition(this.props.status, to)) throw ApprovalError.alreadyDecided(this.id, this.props.status, this.props.decidedBy);
    this.props.status = to;
    this.props.decidedBy = by;
    this.props.answeredAt = now;
  }
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

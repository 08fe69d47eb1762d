import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Approval, ApprovalDecision, OpenApprovalInput } from '../domain/approval';
import { outcomeOf } from '../domain/approval-status';
import { ApprovalError, ApprovalErrorCode } from '../domain/approval.errors';
import { ApprovalObservers } from './approval-observers';
import { APPROVAL_DECISIONS, ApprovalDecisionsPort } from './ports/approval-decisions.port';
import { APPROVAL_REPOSITORY, ApprovalListFilter, ApprovalRepositoryPort, SessionRun } from './ports/approval.repository.port';

export interface ApprovalTimings {
  /** While waiting for a decision, the approval is read again this often whatever pub/sub says. */
  recheckMs: number;
}

const APPROVAL_TIMINGS = Symbol('APPROVAL_TIMINGS');
const DEFAULT_APPROVAL_TIMINGS: ApprovalTimings = { recheckMs: 3_000 };

/** What a turn asks: everything of an approval but its timing, which the configuration decides. */
export type OpenApprovalRequest = Omit<OpenApprovalInput, 'timeoutMs'>;

export interface AnswerInput {
  decision: ApprovalDecision;
  /** With allow: OpenCode allows later matching calls of the session too. */
  remember?: boolean;
}

/** How the waiting side ends an approval that nobody answered through the API. */
export type Withdrawal = { kind: 'cancel' } | { kind: 'settled-by-opencode'; allowed: boolean };

const MAX_CONFLICT_RETRIES = 8;
const SWEEP_BATCH = 100;

/**
 * Approvals: a permission request of an OpenCode turn that waits for a person. The worker
 * running the turn opens one and waits for its decision; an operator answers it through the API
 * (in any process); nobody answering within APPROVAL_TIMEOUT_SECONDS denies it (EXPIRED); the
 * turn ending first cancels it. Every decision is one version-checked write, so exactly one of
 * several concurrent deciders wins, and it alone is counted and announced.
 */
@Injectable()
export class ApprovalService {
  private readonly logger = new Logger(ApprovalService.name);
  private readonly timings: ApprovalTimings;

  constructor(
    @Inject(APPROVAL_REPOSITORY) private readonly approvals: ApprovalRepositoryPort,
    @Inject(APPROVAL_DECISIONS) private readonly decisions: ApprovalDecisionsPort,
    private readonly observers: ApprovalObservers,
    private readonly config: AppConfig,
    @Optional() @Inject(APPROVAL_TIMINGS) timings: Partial<ApprovalTimings> | null = null,
  ) {
    this.timings = { ...DEFAULT_APPROVAL_TIMINGS, ...timings };
  }

  /**
   * Opens the approval of one OpenCode request, PENDING until APPROVAL_TIMEOUT_SECONDS from now.
   * Idempotent on (session, request): asked again (a resumed run), it returns the one stored.
   */
  async open(request: OpenApprovalRequest, now = new Date()): Promise<Approval> {
    const approval = Approval.open({ ...request, timeoutMs: this.config.approvalTimeoutSeconds * 1000 }, now);
    const stored = await this.approvals.insertOrGet(approval);
    if (stored.id === approval.id) {
      this.logger.log(
        `Approval ${stored.id} opened: session ${request.sessionId} (attempt ${request.attempt}) asks "${stored.snapshot().title}", ` +
          `PENDING until ${stored.expiresAt.toISOString()}`,
      );
    }
    return stored;
  }

  async get(id: string): Promise<Approval> {
    const approval = await this.approvals.findById(id);
    if (!approval) throw ApprovalError.notFound(id);
    return approval;
  }

  list(filter: ApprovalListFilter): Promise<Approval[]> {
    return this.approvals.list(filter);
  }

  /** The PENDING approvals of these runs (e.g. the current attempts of a page of sessions). */
  pendingOfRuns(runs: readonly SessionRun[]): Promise<Approval[]> {
    return runs.length === 0 ? Promise.resolve([]) : this.approvals.findPendingOfRuns(runs);
  }

  /**
   * An operator's answer. APPROVAL_ALREADY_DECIDED (naming the status) when it was decided in
   * any way before, expiry included.
   */
  async answer(id: string, input: AnswerInput, by: { keyId: string | null }): Promise<Approval> {
    const change = (approval: Approval) => approval.answer(input.decision, { remember: input.remember, keyId: by.keyId });
    return (await this.decide(id, change, { strict: true })).approval;
  }

  /**
   * Waits until the approval is decided (answered, expired, or decided by another process) and
   * returns it. Expires it itself at its expiry. When `signal` aborts first, returns it as it
   * stands (maybe still PENDING): the caller withdraws it. Learns of answers through
   * APPROVAL_DECISIONS at once, and re-reads it every few seconds in case a message was lost.
   */
  async awaitDecision(id: string, signal?: AbortSignal): Promise<Approval> {
    const wakeup = new Wakeup();
    const stopListening = await this.decisions.subscribe(id, () => wakeup.fire()).catch((err: Error) => {
      this.logger.warn(`Approval ${id}: cannot listen for decisions (${err.message}); reading it every ${this.timings.recheckMs} ms`);
      return () => undefined;
    });
    try {
      let last: Approval | undefined;
      for (;;) {
        try {
          last = await this.get(id);
          if (!last.isPending || signal?.aborted) return last;
          if (last.isOverdue()) {
            const expired = await this.settle(id, (approval) => approval.expire());
            if (!expired.isPending) return expired;
          }
        } catch (err) {
          if (err instanceof ApprovalError && err.code === ApprovalErrorCode.APPROVAL_NOT_FOUND) throw err;
          // The database may be back at the next round; the session's own timeout bounds the wait.
          this.logger.warn(`Approval ${id}: ${(err as Error).message}; trying again`);
          if (signal?.aborted && last) return last;
        }
        const untilExpiry = last ? last.expiresAt.getTime() - Date.now() : this.timings.recheckMs;
        await wakeup.wait(Math.max(0, Math.min(this.timings.recheckMs, untilExpiry)), signal);
      }
    } finally {
      stopListening();
    }
  }

  /**
   * Ends a PENDING approval that nobody answered: cancelled (its turn ended), or settled the way
   * OpenCode settled the request itself. Returns it as stored; decided already, it is unchanged.
   */
  withdraw(id: string, withdrawal: Withdrawal): Promise<Approval> {
    return this.settle(id, (approval) =>
      withdrawal.kind === 'cancel' ? approval.cancel() : approval.settleByOpencode(withdrawal.allowed),
    );
  }

  /** Cancels what a run left PENDING (its turn is over). Returns the approvals it cancelled. */
  async cancelPendingOfRun(run: SessionRun): Promise<Approval[]> {
    const cancelled: Approval[] = [];
    for (const pending of await this.approvals.findPendingOfRuns([run])) {
      const { approval, changed } = await this.decide(pending.id, (a) => a.cancel(), { strict: false });
      if (changed) cancelled.push(approval);
    }
    return cancelled;
  }

  /**
   * Expires PENDING approvals past their expiry whose waiting worker is gone (the worker expires
   * its own at the expiry). Run by the recovery sweep. Returns the approvals it expired.
   */
  async expireOverdue(now = new Date()): Promise<Approval[]> {
    const expired: Approval[] = [];
    for (const overdue of await this.approvals.findOverdue(now, SWEEP_BATCH)) {
      const { approval, changed } = await this.decide(overdue.id, (a) => a.expire(now), { strict: false });
      if (changed) expired.push(approval);
    }
    if (expired.length > 0) this.logger.warn(`Expired ${expired.length} approval(s) nobody waited for any more: ${expired.map((a) => a.id).join(', ')}`);
    return expired;
  }

  /** A decision by the system: decided already (by anyone), the approval is returned unchanged. */
  private async settle(id: string, change: (approval: Approval) => void): Promise<Approval> {
    return (await this.decide(id, change, { strict: false })).approval;
  }

  /**
   * Reads, decides and writes version-checked; after a concurrent write, reads again and retries
   * (the domain refuses a second decision). Strict: a decided approval is an error; else returned.
   */
  private async decide(
    id: string,
    change: (approval: Approval) => void,
    options: { strict: boolean },
  ): Promise<{ approval: Approval; changed: boolean }> {
    let version = 0;
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const approval = await this.get(id);
      version = approval.version;
      if (!approval.isPending && !options.strict) return { approval, changed: false };
      change(approval);
      try {
        await this.approvals.update(approval);
      } catch (err) {
        if (err instanceof ApprovalError && err.code === ApprovalErrorCode.APPROVAL_VERSION_CONFLICT) continue;
        throw err;
      }
      this.decided(approval);
      return { approval, changed: true };
    }
    throw ApprovalError.versionConflict(id, version);
  }

  private decided(approval: Approval): void {
    const s = approval.snapshot();
    const outcome = outcomeOf(s.status);
    if (outcome) this.observers.decided(s, outcome);
    this.logger.log(
      `Approval ${s.id} (session ${s.sessionId}, "${s.title}") ${s.status} by ${s.decidedBy}` +
        `${s.answeredByKeyId ? ` (key ${s.answeredByKeyId})` : ''}${s.remember ? ', remembered' : ''}`,
    );
    this.decisions
      .publish(s.id)
      .catch((err: Error) => this.logger.warn(`Could not announce the decision of approval ${s.id}: ${err.message}`));
  }
}

/** A sleep that a message can cut short; a message that comes before the sleep is not lost. */
class Wakeup {
  private fired = false;
  private wake?: () => void;

  fire(): void {
    this.fired = true;
    this.wake?.();
  }

  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.fired || signal?.aborted) {
      this.fired = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wake = undefined;
        this.fired = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}

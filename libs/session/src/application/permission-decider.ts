import { Logger } from '@nestjs/common';
import { ApprovalGatePort, ApprovalView, ApprovalWithdrawal, replyOf } from './ports/approval-gate.port';
import type {
  CodingPermissionReply,
  CodingPermissionRequest,
  CodingPermissionWithdrawal,
  CodingTurnOutcome,
} from './ports/coding-turns.port';
import { approvalEvent, SessionEventsPort } from './ports/session-events.port';

const PERMISSION_DENIED = 'PERMISSION_DENIED';

/**
 * The permission requests of one run: each becomes an approval, announced on the session's
 * stream when opened and when decided; the run's turn waits for the decision (the session's own
 * timeout keeps running meanwhile). One instance per run.
 */
export class PermissionDecider {
  private readonly logger = new Logger(PermissionDecider.name);
  private readonly inFlight = new Set<Promise<unknown>>();
  /** The last approval the run refused: it explains a PERMISSION_DENIED outcome. */
  private refused?: ApprovalView;

  constructor(
    private readonly gate: ApprovalGatePort,
    private readonly events: SessionEventsPort | null,
    private readonly run: { sessionId: string; attempt: number },
    private readonly approvalTimeoutSeconds: number,
  ) {}

  /** The coding agent's onPermission. */
  decide = (request: CodingPermissionRequest, signal: AbortSignal): Promise<CodingPermissionReply> => {
    const decision = this.decideOne(request, signal);
    this.inFlight.add(decision);
    void decision.catch(() => undefined).finally(() => this.inFlight.delete(decision));
    return decision;
  };

  /**
   * After the turn: waits (at most `ms`) for the decisions still being recorded, then cancels
   * what the run left PENDING, so that every approval event goes out before the final transition.
   * Not after a turn handed to another worker: what waits is that worker's to decide.
   */
  async finish(ms: number): Promise<void> {
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((resolve) => (timer = setTimeout(resolve, ms))),
      ]).finally(() => clearTimeout(timer));
    }
    try {
      for (const cancelled of await this.gate.cancelPending(this.run.sessionId, this.run.attempt)) this.publish(cancelled);
    } catch (err) {
      // The recovery sweep expires them later.
      this.logger.warn(`Session ${this.run.sessionId}: could not cancel its pending approvals: ${(err as Error).message}`);
    }
  }

  /** A PERMISSION_DENIED outcome says which approval was refused, and how. */
  explain(outcome: CodingTurnOutcome): CodingTurnOutcome {
    const refused = this.refused;
    if (outcome.error?.code !== PERMISSION_DENIED || !refused) return outcome;
    const how =
      refused.status === 'EXPIRED'
        ? `nobody answered it within ${this.approvalTimeoutSeconds} s (APPROVAL_TIMEOUT_SECONDS)`
        : refused.decidedBy === 'key'
          ? `it was denied${refused.answeredByKeyId ? ` by key ${refused.answeredByKeyId}` : ''}`
          : `it ended ${refused.status} (${refused.decidedBy ?? 'unknown'})`;
    return {
      ...outcome,
      error: { code: PERMISSION_DENIED, message: `approval ${refused.id} (${refused.title}) was not granted: ${how}; OpenCode stopped the turn there` },
    };
  }

  private async decideOne(request: CodingPermissionRequest, signal: AbortSignal): Promise<CodingPermissionReply> {
    let approval: ApprovalView;
    try {
      approval = await this.gate.open({ ...this.run, ...request });
    } catch (err) {
      this.logger.warn(`Session ${this.run.sessionId}: could not record the approval of "${request.title}", refused: ${(err as Error).message}`);
      throw err;
    }
    this.publish(approval);
    let decided = await this.gate.awaitDecision(approval.id, signal);
    // Detached (the turn was handed to another worker), the approval stays PENDING: that worker's run finds it again.
    if (decided.status === 'PENDING' && (signal.reason as CodingPermissionWithdrawal | undefined)?.kind !== 'detached') {
      decided = await this.gate.withdraw(approval.id, withdrawalOf(signal.reason));
    }
    if (decided.status !== approval.status) this.publish(decided);
    if (decided.status === 'DENIED' || decided.status === 'EXPIRED') this.refused = decided;
    return replyOf(decided);
  }

  /** Best effort: a lost event costs a stream client some detail; GET shows awaitingApproval anyway. */
  private publish(approval: ApprovalView): void {
    if (!this.events) return;
    this.events
      .publish(
        approvalEvent(this.run.sessionId, {
          attempt: this.run.attempt,
          approvalId: approval.id,
          permission: approval.permission,
          patterns: approval.patterns,
          title: approval.title,
          status: approval.status,
          expiresAt: approval.expiresAt.toISOString(),
          ...(approval.decidedBy && { decidedBy: approval.decidedBy, answeredByKeyId: approval.answeredByKeyId }),
        }),
      )
      .catch((err: Error) => this.logger.debug(`Could not publish approval ${approval.id} of session ${this.run.sessionId}: ${err.message}`));
  }
}

function withdrawalOf(reason: unknown): ApprovalWithdrawal {
  const withdrawal = reason as CodingPermissionWithdrawal | undefined;
  if (withdrawal?.kind === 'settled') return { kind: 'settled-by-opencode', allowed: withdrawal.reply !== 'reject' };
  return { kind: 'cancel' };
}

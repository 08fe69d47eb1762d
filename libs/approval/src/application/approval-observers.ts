import { Injectable, Logger } from '@nestjs/common';
import type { ApprovalProps } from '../domain/approval';
import type { ApprovalOutcome } from '../domain/approval-status';
import { errorMessage } from '@app/shared';

/**
 * Something that wants to know, in the process that wrote it, about an approval decided
 * (metrics count outcomes). Called once per decision across the fleet: only the write that
 * won the version check reports. Must be quick and must not throw.
 */
export interface ApprovalObserver {
  decided(approval: Readonly<ApprovalProps>, outcome: ApprovalOutcome): void;
}

/** The registry the approval service tells after every committed decision. */
@Injectable()
export class ApprovalObservers {
  private readonly logger = new Logger(ApprovalObservers.name);
  private readonly observers = new Set<ApprovalObserver>();

  register(observer: ApprovalObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  decided(approval: Readonly<ApprovalProps>, outcome: ApprovalOutcome): void {
    for (const observer of this.observers) {
      try {
        observer.decided(approval, outcome);
      } catch (err) {
        this.logger.warn(`An approval observer failed: ${errorMessage(err)}`);
      }
    }
  }
}

import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { APPROVAL_OUTCOMES, ApprovalObservers } from '@app/approval';
import { Metrics } from '../metrics';

/**
 * orchestrator_approvals_total{outcome}: every approval decided, counted by the process whose
 * write decided it (the approval context reports each decision once, see ApprovalObservers).
 */
@Injectable()
export class ApprovalMetrics implements OnModuleInit, OnModuleDestroy {
  private unregister?: () => void;

  constructor(
    private readonly metrics: Metrics,
    private readonly observers: ApprovalObservers,
  ) {}

  onModuleInit(): void {
    // Every outcome at 0, so that increase() sees the first one.
    for (const outcome of APPROVAL_OUTCOMES) this.metrics.approvals.labels(outcome).inc(0);
    this.unregister = this.observers.register({ decided: (_approval, outcome) => this.metrics.approvals.labels(outcome).inc() });
  }

  onModuleDestroy(): void {
    this.unregister?.();
  }
}

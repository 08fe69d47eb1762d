import { Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import { ApprovalObservers } from '../../application/approval-observers';
import { APPROVAL_OUTCOMES } from '../../domain/approval-status';

/**
 * orchestrator_approvals_total{outcome}: every approval decided, counted by the process whose
 * write decided it (the approval context reports each decision once, see ApprovalObservers).
 * Nothing when the process has no Metrics.
 */
@Injectable()
export class ApprovalMetrics implements OnModuleInit, OnModuleDestroy {
  private unregister?: () => void;

  constructor(
    private readonly observers: ApprovalObservers,
    @Optional() private readonly metrics?: Metrics,
  ) {}

  onModuleInit(): void {
    const metrics = this.metrics;
    if (!metrics) return;
    // Every outcome at 0, so that increase() sees the first one.
    for (const outcome of APPROVAL_OUTCOMES) metrics.approvals.labels(outcome).inc(0);
    this.unregister = this.observers.register({ decided: (_approval, outcome) => metrics.approvals.labels(outcome).inc() });
  }

  onModuleDestroy(): void {
    this.unregister?.();
  }
}

import { Injectable, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { BudgetLimit, Spend } from '@app/shared';
import type { SpendLabels, SpendingMetricsPort } from '../../application/ports/spending-metrics.port';
import type { BudgetEvent } from '../../domain/budget-check';
import { SPEND_SCOPES, SpendScope } from '../../domain/spend-scope';

const NONE = 'none';

/**
 * orchestrator_spend_usd_total / orchestrator_spend_tokens_total {agent, role, model, key, plan}:
 * what runs newly recorded; orchestrator_budget_remaining_ratio {scope, id, limit}: share left as
 * the last update saw it; orchestrator_budget_events_total {scope, event}: budgets crossing 80%
 * or 100%. Scopes are written lower-case, an absent agent, role, key or plan as 'none'. Nothing
 * when the process has no Metrics.
 */
@Injectable()
export class SpendingMetrics implements SpendingMetricsPort, OnModuleInit {
  constructor(@Optional() private readonly metrics?: Metrics) {}

  /** Every scope and event at 0, so that increase() (the BudgetExceeded alert) sees the first. */
  onModuleInit(): void {
    for (const scope of SPEND_SCOPES) for (const event of ['warning', 'exceeded']) this.metrics?.budgetEvents.labels(scope.toLowerCase(), event).inc(0);
  }

  spent(labels: SpendLabels, increase: Spend): void {
    if (!this.metrics) return;
    const values = { agent: labels.agent || NONE, role: labels.role || NONE, model: labels.model || NONE, key: labels.key || NONE, plan: labels.plan || NONE };
    if (increase.costUsd > 0) this.metrics.spendUsd.inc(values, increase.costUsd);
    if (increase.tokens > 0) this.metrics.spendTokens.inc(values, increase.tokens);
  }

  budgetLeft(scope: SpendScope, scopeId: string, limit: BudgetLimit, share: number): void {
    this.metrics?.budgetRemaining.set({ scope: scope.toLowerCase(), id: scopeId, limit }, share);
  }

  budgetEvent(scope: SpendScope, event: BudgetEvent): void {
    this.metrics?.budgetEvents.inc({ scope: scope.toLowerCase(), event });
  }
}

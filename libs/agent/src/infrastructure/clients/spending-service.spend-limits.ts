import { Injectable } from '@nestjs/common';
import type { Budget, Spend } from '@app/shared';
import { SpendingService } from '@app/spending';
import { SpendLimitsPort } from '../../application/ports/spend-limits.port';

/** The agent context's view of the spending context: the AGENT scope of its budgets and ledger. */
@Injectable()
export class SpendingServiceSpendLimits implements SpendLimitsPort {
  constructor(private readonly spending: SpendingService) {}

  setAgentBudget(agentId: string, budget: Budget | null): Promise<void> {
    return this.spending.setLimit('AGENT', agentId, budget);
  }

  spentToday(agentIds: string[]): Promise<Map<string, Spend>> {
    return agentIds.length ? this.spending.spentBy('AGENT', agentIds) : Promise.resolve(new Map());
  }
}

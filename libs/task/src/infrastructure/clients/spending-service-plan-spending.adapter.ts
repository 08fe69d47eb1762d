import { Injectable } from '@nestjs/common';
import type { Budget, Spend } from '@app/shared';
import { SpendingService } from '@app/spending';
import { PlanSpendingPort } from '../../application/ports/plan-spending.port';

/** The task context's view of the spending context: the PLAN scope of its budgets and ledger. */
@Injectable()
export class SpendingServicePlanSpending implements PlanSpendingPort {
  constructor(private readonly spending: SpendingService) {}

  spentBy(planIds: string[]): Promise<Map<string, Spend>> {
    return planIds.length ? this.spending.spentBy('PLAN', planIds) : Promise.resolve(new Map());
  }

  setLimit(planId: string, budget: Budget | null): Promise<void> {
    return this.spending.setLimit('PLAN', planId, budget);
  }
}

import { Injectable } from '@nestjs/common';
import type { Budget, Spend } from '@app/shared';
import { SpendingService } from '@app/spending';
import { SpendLimitsPort } from '../../application/ports/spend-limits.port';

/** The auth context's view of the spending context: the KEY scope of its budgets and ledger. */
@Injectable()
export class SpendingServiceSpendLimits implements SpendLimitsPort {
  constructor(private readonly spending: SpendingService) {}

  setKeyBudget(keyId: string, budget: Budget | null): Promise<void> {
    return this.spending.setLimit('KEY', keyId, budget);
  }

  spentToday(keyIds: string[]): Promise<Map<string, Spend>> {
    return keyIds.length ? this.spending.spentBy('KEY', keyIds) : Promise.resolve(new Map());
  }
}

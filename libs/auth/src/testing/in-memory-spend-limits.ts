import type { Budget, Spend } from '@app/shared';
import { SpendLimitsPort } from '../application/ports/spend-limits.port';

/** Unit-test double of the spending context as keys see it: the budgets set, in call order, and spend you set. */
export class InMemoryKeySpendLimits implements SpendLimitsPort {
  readonly calls: Array<{ keyId: string; budget: Budget | null }> = [];
  /** Key id → what its sessions spent today; set it directly. */
  readonly spent = new Map<string, Spend>();

  async setKeyBudget(keyId: string, budget: Budget | null): Promise<void> {
    this.calls.push({ keyId, budget: budget ? { ...budget } : null });
  }

  async spentToday(keyIds: string[]): Promise<Map<string, Spend>> {
    return new Map(keyIds.filter((id) => this.spent.has(id)).map((id) => [id, { ...this.spent.get(id)! }]));
  }
}

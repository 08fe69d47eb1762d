// The spending context's public entry: what other code uses of it, nothing more.
export { SpendingModule } from './spending.module';
export { SpendingService } from './application/spending.service';
export type { RunScopes, RunSpendTracker } from './application/spending.service';
export type { BudgetBreach, BudgetWarning, SpendCheck } from './domain/budget-check';
export { isUtcDay, LIMIT_SCOPES, SPEND_SCOPES, utcDay } from './domain/spend-scope';
export type { LimitScope, SpendScope } from './domain/spend-scope';
export { SPENDING_LEDGER } from './application/ports/spending-ledger.port';
export type { SpendingLedgerPort } from './application/ports/spending-ledger.port';
export { SPENDING_METRICS } from './application/ports/spending-metrics.port';
export type { SpendingMetricsPort } from './application/ports/spending-metrics.port';
export { SPENDING_CLOCK } from './application/ports/spending-clock.port';
export type { SpendingClock } from './application/ports/spending-clock.port';

// The shared kernel: plain TypeScript every layer may import, domain included (no framework, no I/O;
// the HTTP helpers built on it are in @app/http).
export { CommonErrorCode, DomainError } from './domain-error';
export { errorMessage } from './error-message';
export { OUTAGE_RETRY_AFTER_SECONDS, retryWhileUnavailable, ServiceUnavailableError } from './outage';
export type { Outage, WhileUnavailableOptions } from './outage';
export { addUsage, ZERO_USAGE } from './run-outcome';
export type { RunFailure, RunResult, TokenUsage } from './run-outcome';
export { ANONYMOUS_PRINCIPAL, BOOTSTRAP_KEY_ID, isInside, principalReaches, roleAtLeast, ROLES } from './access';
export type { Principal, Role } from './access';
export {
  addSpend,
  BUDGET_LIMITS,
  BUDGET_WARNING_RATIO,
  budgetProblem,
  evaluateBudget,
  normaliseBudget,
  remainingOf,
  spendOf,
  tokensOf,
  ZERO_SPEND,
} from './budget';
export type { Budget, BudgetLimit, BudgetVerdict, Spend } from './budget';
export { inRetentionBatches, retentionCutoff } from './retention';
export type { RetentionBatches } from './retention';

/**
 * The HTTP edge every context's controllers share: the access decorators the guard reads, the
 * 403 for a key confined to other roots, and the one error body for Swagger. Nest code, kept out
 * of the kernel (@app/shared) so that domain code never reaches @nestjs through it.
 */
export { CurrentPrincipal, Public, PUBLIC_ROUTE, REQUIRED_ROLE, RequireRole } from './access.decorators';
export { IdParam, KeyedApi } from './keyed-api.decorators';
export { assertPrincipalReaches } from './principal-reach';
export { ErrorResponseDto } from './error-response.dto';
export { RunFailureDto, RunResultDto, TokenUsageDto } from './run-outcome.dto';
export { BudgetDto, SpendDto, SpendTodayDto } from './budget.dto';

import type { ProviderCapacityService } from '@app/capacity';
import type { SpendingService } from '@app/spending';
import type { ProviderCapacityPort } from '../../application/ports/provider-capacity.port';
import type { RunSpendingPort } from '../../application/ports/run-spending.port';

/**
 * The run's view of provider capacity is the capacity context's service as it is (same shapes):
 * this function is where the compiler checks that they still match.
 */
export function providerCapacityAdapter(service: ProviderCapacityService): ProviderCapacityPort {
  return service;
}

/** The run's view of spending: the spending context's service (same shapes, checked here). */
export function runSpendingAdapter(service: SpendingService): RunSpendingPort {
  return service;
}

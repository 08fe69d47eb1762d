import { remainingOf, Spend, ZERO_SPEND } from '@app/shared';
import { ApiKey } from '../../domain/api-key';
import { ApiKeyResponseDto } from './dto/api-key.dto';

/** A key as the API shows it: never its secret, never its hash; with what its sessions spent this UTC day. */
export function presentApiKey(key: ApiKey, spent: Spend = ZERO_SPEND, now = new Date()): ApiKeyResponseDto {
  const { keyHash: _hash, ...visible } = key.snapshot();
  return { ...visible, status: key.status(now), spendToday: { spent: { ...spent }, remaining: remainingOf(visible.budget, spent) } };
}

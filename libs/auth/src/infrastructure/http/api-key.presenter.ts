import { ApiKey } from '../../domain/api-key';
import { ApiKeyResponseDto } from './dto/api-key.dto';

/** A key as the API shows it: never its secret, never its hash. */
export function presentApiKey(key: ApiKey, now = new Date()): ApiKeyResponseDto {
  const { keyHash: _hash, ...visible } = key.snapshot();
  return { ...visible, status: key.status(now) };
}

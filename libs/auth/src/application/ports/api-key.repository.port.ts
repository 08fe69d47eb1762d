import { ApiKey } from '../../domain/api-key';

export interface ApiKeyRepositoryPort {
  insert(key: ApiKey): Promise<void>;
  /** The key whose secret hashes to `keyHash` (revoked and expired ones included: the caller decides). */
  findByHash(keyHash: string): Promise<ApiKey | null>;
  findById(id: string): Promise<ApiKey | null>;
  /** Every key, newest first (revoked ones included: they name the ids recorded on sessions and plans). */
  list(): Promise<ApiKey[]>;
  /**
   * Writes the key only if the stored version is still key.version, then bumps it on the key;
   * otherwise throws KEY_VERSION_CONFLICT and writes nothing.
   */
  update(key: ApiKey): Promise<void>;
}

export const API_KEY_REPOSITORY = Symbol('API_KEY_REPOSITORY');

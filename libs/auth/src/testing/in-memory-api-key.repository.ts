import { ApiKey } from '../domain/api-key';
import { AuthError } from '../domain/auth.errors';
import { ApiKeyRepositoryPort } from '../application/ports/api-key.repository.port';

/** Unit-test double of the key repository, with the same version check as the real one. */
export class InMemoryApiKeyRepository implements ApiKeyRepositoryPort {
  readonly rows = new Map<string, ReturnType<ApiKey['snapshot']>>();
  lookups = 0;

  async insert(key: ApiKey): Promise<void> {
    this.rows.set(key.id, key.snapshot());
  }

  async findByHash(keyHash: string): Promise<ApiKey | null> {
    this.lookups++;
    const row = [...this.rows.values()].find((r) => r.keyHash === keyHash);
    return row ? ApiKey.restore(row) : null;
  }

  async findById(id: string): Promise<ApiKey | null> {
    const row = this.rows.get(id);
    return row ? ApiKey.restore(row) : null;
  }

  async list(): Promise<ApiKey[]> {
    return [...this.rows.values()].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).map((r) => ApiKey.restore(r));
  }

  async update(key: ApiKey): Promise<void> {
    const stored = this.rows.get(key.id);
    if (!stored || stored.version !== key.version) throw AuthError.versionConflict(key.id, key.version);
    key.persisted(key.version + 1);
    this.rows.set(key.id, key.snapshot());
  }
}

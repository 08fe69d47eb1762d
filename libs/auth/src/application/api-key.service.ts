import { Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { ANONYMOUS_PRINCIPAL, BOOTSTRAP_KEY_ID, Budget, isInside, Principal, Role, Spend, ZERO_SPEND } from '@app/shared';
import { WORKSPACE_PORT, WorkspaceError, WorkspaceErrorCode, WorkspacePort } from '@app/workspace';
import { ApiKey } from '../domain/api-key';
import { hashSecret, looksLikeStoredSecret } from '../domain/api-key-secret';
import { AuthError, AuthErrorCode } from '../domain/auth.errors';
import { BOOTSTRAP_PRINCIPAL, BootstrapKey } from '../domain/bootstrap-key';
import { Authentication } from './authentication';
import { API_KEY_REPOSITORY, ApiKeyRepositoryPort } from './ports/api-key.repository.port';
import { SPEND_LIMITS, SpendLimitsPort } from './ports/spend-limits.port';

export interface CreateApiKeyCommand {
  name: string;
  role: Role;
  /** Directories inside WORKSPACE_ROOTS; absent: the creating key's own roots (none: any root). */
  workspaceRoots?: string[];
  expiresAt?: Date;
  /** Per UTC day over every session made with the key; absent or null: no limit. */
  budget?: Budget | null;
}

export interface IssuedApiKey {
  key: ApiKey;
  /** Shown once, to the caller that made the key; only its hash is stored. */
  secret: string;
}

/** Use cases of API keys: issue, list, revoke, and who a presented key is. */
@Injectable()
export class ApiKeyService {
  private readonly bootstrap: BootstrapKey | null;

  constructor(
    @Inject(API_KEY_REPOSITORY) private readonly keys: ApiKeyRepositoryPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    config: AppConfig,
    @Inject(SPEND_LIMITS) private readonly spendLimits: SpendLimitsPort,
  ) {
    this.bootstrap = config.apiKey ? new BootstrapKey(config.apiKey) : null;
  }

  /** False when API_KEY is unset: every caller is ANONYMOUS_PRINCIPAL (the config allows that on loopback only). */
  get enabled(): boolean {
    return this.bootstrap !== null;
  }

  /**
   * Who a bearer token is. Stored keys are looked up by the hash of the secret on a unique index,
   * at every request: a revoked key is refused by the next request of every process, with no
   * cache to invalidate.
   */
  async authenticate(token: string | null, now = new Date()): Promise<Authentication> {
    if (!this.bootstrap) return { principal: ANONYMOUS_PRINCIPAL };
    if (!token) return { refused: 'missing' };
    if (this.bootstrap.matches(token)) return { principal: BOOTSTRAP_PRINCIPAL };
    if (!looksLikeStoredSecret(token)) return { refused: 'unknown' };
    const key = await this.keys.findByHash(hashSecret(token));
    if (!key) return { refused: 'unknown' };
    const outcome = key.principal(now);
    return 'principal' in outcome ? outcome : { refused: outcome.refused, keyId: key.id, name: key.snapshot().name };
  }

  async create(command: CreateApiKeyCommand, by: Principal, now = new Date()): Promise<IssuedApiKey> {
    const workspaceRoots = command.workspaceRoots === undefined ? by.workspaceRoots : await this.resolveRoots(command.workspaceRoots, by);
    const issued = ApiKey.issue(
      {
        name: command.name,
        role: command.role,
        workspaceRoots: workspaceRoots ? [...workspaceRoots] : null,
        expiresAt: command.expiresAt ?? null,
        createdByKeyId: by.keyId,
        budget: command.budget ?? null,
      },
      now,
    );
    await this.keys.insert(issued.key);
    // A new key has no limit in the spending context: only a budget needs mirroring.
    if (issued.key.budget) await this.spendLimits.setKeyBudget(issued.key.id, issued.key.budget);
    return issued;
  }

  /**
   * Replaces the daily budget of a key read at `version` (null: none); a stale version is
   * KEY_VERSION_CONFLICT. The spending context gets the new budget after the write, every time
   * (so re-sending a budget repairs a mirror an earlier failure left behind).
   */
  async changeBudget(id: string, version: number, budget: Budget | null, now = new Date()): Promise<ApiKey> {
    if (id === BOOTSTRAP_KEY_ID) {
      throw AuthError.invalid('id', 'is the bootstrap key (API_KEY), which is set by the environment and has no stored row: it cannot have a budget', id);
    }
    const key = await this.get(id);
    if (key.version !== version) throw AuthError.versionConflict(id, version);
    key.changeBudget(budget, now);
    await this.keys.update(key);
    await this.spendLimits.setKeyBudget(key.id, key.budget);
    return key;
  }

  /** What the sessions of each key spent this UTC day (zero for those that spent nothing). */
  async spentToday(keyIds: string[]): Promise<Map<string, Spend>> {
    const spent = await this.spendLimits.spentToday(keyIds);
    return new Map(keyIds.map((id) => [id, spent.get(id) ?? { ...ZERO_SPEND }]));
  }

  list(): Promise<ApiKey[]> {
    return this.keys.list();
  }

  async get(id: string): Promise<ApiKey> {
    const key = await this.keys.findById(id);
    if (!key) throw AuthError.notFound(id);
    return key;
  }

  /** Revokes at once (idempotent: revoking a revoked key keeps its first revokedAt). */
  async revoke(id: string, now = new Date()): Promise<ApiKey> {
    for (let attempt = 1; ; attempt++) {
      const key = await this.get(id);
      if (!key.revoke(now)) return key;
      try {
        await this.keys.update(key);
        return key;
      } catch (err) {
        if (attempt >= 3 || !(err instanceof AuthError) || err.code !== AuthErrorCode.KEY_VERSION_CONFLICT) throw err;
      }
    }
  }

  /**
   * Each root must be inside WORKSPACE_ROOTS, and inside the creating key's own roots when it has
   * some: a key never makes a key that reaches further than itself.
   */
  private async resolveRoots(roots: string[], by: Principal): Promise<string[]> {
    if (roots.length === 0) throw AuthError.invalid('workspaceRoots', 'must name at least one directory (leave it out for any root)');
    const resolved = await this.workspaces.resolveRoots(roots);
    if (by.workspaceRoots) {
      const outside = resolved.find((root) => !by.workspaceRoots!.some((own) => isInside(root, own)));
      if (outside) {
        throw new WorkspaceError(
          WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS,
          `workspace root ${outside} is outside the roots of the key that makes it (${by.workspaceRoots.join(', ')})`,
          { field: 'workspaceRoots', workspace: outside, keyRoots: by.workspaceRoots },
        );
      }
    }
    return resolved;
  }
}

import { AppConfig, validateEnvironment } from '@app/config';
import { ANONYMOUS_PRINCIPAL, BOOTSTRAP_KEY_ID, Principal } from '@app/shared';
import { WorkspaceError, WorkspaceErrorCode, WorkspacePort } from '@app/workspace';
import { hashSecret } from '../domain/api-key-secret';
import { AuthErrorCode } from '../domain/auth.errors';
import { ApiKeyService } from './api-key.service';
import { InMemoryApiKeyRepository, InMemoryKeySpendLimits } from '@app/auth/testing';

const BOOTSTRAP = 'bootstrap-secret-123';
const ADMIN: Principal = { keyId: BOOTSTRAP_KEY_ID, name: 'API_KEY', role: 'admin', workspaceRoots: null };

/** Roots are "inside WORKSPACE_ROOTS" under /work; a trailing /link resolves to its target. */
const workspaces = {
  async resolveRoots(roots: readonly string[]) {
    return roots.map((root) => {
      if (!root.startsWith('/work')) throw new WorkspaceError(WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS, `workspace root ${root} is outside`, { field: 'workspaceRoots' });
      return root.replace(/\/link$/, '/real');
    });
  },
} as unknown as WorkspacePort;

function service(apiKey: string | null = BOOTSTRAP) {
  const repo = new InMemoryApiKeyRepository();
  const config = new AppConfig(validateEnvironment(apiKey ? { API_KEY: apiKey } : {}));
  const spendLimits = new InMemoryKeySpendLimits();
  return { repo, spendLimits, keys: new ApiKeyService(repo, workspaces, config, spendLimits) };
}

describe('ApiKeyService', () => {
  it('with API_KEY unset, everyone is the anonymous admin, and nothing is looked up', async () => {
    const { keys, repo } = service(null);
    expect(keys.enabled).toBe(false);
    expect(await keys.authenticate(null)).toEqual({ principal: ANONYMOUS_PRINCIPAL });
    expect(await keys.authenticate('anything')).toEqual({ principal: ANONYMOUS_PRINCIPAL });
    expect(repo.lookups).toBe(0);
  });

  it('knows API_KEY as the bootstrap admin, and refuses a missing or unknown key', async () => {
    const { keys, repo } = service();
    expect(await keys.authenticate(BOOTSTRAP)).toEqual({ principal: expect.objectContaining({ keyId: BOOTSTRAP_KEY_ID, role: 'admin', workspaceRoots: null }) });
    expect(await keys.authenticate(null)).toEqual({ refused: 'missing' });
    expect(await keys.authenticate('not-a-key')).toEqual({ refused: 'unknown' });
    expect(repo.lookups).toBe(0); // not the shape of a stored key: no query
    expect(await keys.authenticate(`oio_${'A'.repeat(43)}`)).toEqual({ refused: 'unknown' });
    expect(repo.lookups).toBe(1);
  });

  it('issues a key whose secret authenticates as it, until revoked; revoking twice keeps the first time', async () => {
    const { keys, repo } = service();
    const { key, secret } = await keys.create({ name: 'ci', role: 'viewer' }, ADMIN);
    expect(repo.rows.get(key.id)?.keyHash).toBe(hashSecret(secret));
    expect(key.snapshot()).toMatchObject({ createdByKeyId: BOOTSTRAP_KEY_ID, workspaceRoots: null });
    expect(await keys.authenticate(secret)).toEqual({ principal: { keyId: key.id, name: 'ci', role: 'viewer', workspaceRoots: null } });
    const t1 = new Date(Date.now() + 10);
    expect((await keys.revoke(key.id, t1)).revokedAt).toEqual(t1);
    expect(await keys.authenticate(secret)).toEqual({ refused: 'revoked', keyId: key.id, name: 'ci' });
    expect((await keys.revoke(key.id, new Date(Date.now() + 99))).revokedAt).toEqual(t1);
    expect(repo.rows.get(key.id)?.version).toBe(2);
    await expect(keys.revoke('0b4c6f3a-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: AuthErrorCode.KEY_NOT_FOUND });
  });

  it('refuses an expired key', async () => {
    const { keys } = service();
    const now = new Date();
    const { key, secret } = await keys.create({ name: 'short', role: 'admin', expiresAt: new Date(now.getTime() + 1000) }, ADMIN, now);
    expect(await keys.authenticate(secret, new Date(now.getTime() + 999))).toHaveProperty('principal');
    expect(await keys.authenticate(secret, new Date(now.getTime() + 1000))).toEqual({ refused: 'expired', keyId: key.id, name: 'short' });
    await expect(keys.create({ name: 'past', role: 'admin', expiresAt: new Date(now.getTime() - 1) }, ADMIN, now)).rejects.toMatchObject({
      code: AuthErrorCode.KEY_INVALID,
      details: expect.objectContaining({ field: 'expiresAt' }),
    });
  });

  it("resolves a key's roots inside WORKSPACE_ROOTS, and inside the creating key's own roots", async () => {
    const { keys } = service();
    const { key } = await keys.create({ name: 'team', role: 'admin', workspaceRoots: ['/work/team/link'] }, ADMIN);
    expect(key.snapshot().workspaceRoots).toEqual(['/work/team/real']);
    await expect(keys.create({ name: 'x', role: 'viewer', workspaceRoots: ['/etc'] }, ADMIN)).rejects.toMatchObject({
      code: WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS,
    });
    const team: Principal = { keyId: key.id, name: 'team', role: 'admin', workspaceRoots: ['/work/team/real'] };
    const inherited = await keys.create({ name: 'sub', role: 'operator' }, team);
    expect(inherited.key.snapshot()).toMatchObject({ workspaceRoots: ['/work/team/real'], createdByKeyId: key.id });
    const narrower = await keys.create({ name: 'sub2', role: 'operator', workspaceRoots: ['/work/team/real/app'] }, team);
    expect(narrower.key.snapshot().workspaceRoots).toEqual(['/work/team/real/app']);
    await expect(keys.create({ name: 'wider', role: 'operator', workspaceRoots: ['/work'] }, team)).rejects.toMatchObject({
      code: WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS,
      details: expect.objectContaining({ field: 'workspaceRoots' }),
    });
    await expect(keys.create({ name: 'sibling', role: 'operator', workspaceRoots: ['/work/team/realm'] }, team)).rejects.toMatchObject({
      code: WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS,
    });
  });

  it('lists keys newest first', async () => {
    const { keys } = service();
    const a = await keys.create({ name: 'a', role: 'viewer' }, ADMIN, new Date(Date.now()));
    const b = await keys.create({ name: 'b', role: 'viewer' }, ADMIN, new Date(Date.now() + 1000));
    expect((await keys.list()).map((k) => k.id)).toEqual([b.key.id, a.key.id]);
  });

  describe('daily budgets', () => {
    it('issues a key with a budget, stored normalised, and mirrors it to the spending context', async () => {
      const { keys, repo, spendLimits } = service();
      const { key } = await keys.create({ name: 'ci', role: 'operator', budget: { maxCostUsd: 5, maxMinutes: undefined } }, ADMIN);
      expect(key.budget).toEqual({ maxCostUsd: 5 });
      expect(repo.rows.get(key.id)!.budget).toEqual({ maxCostUsd: 5 });
      expect(spendLimits.calls).toEqual([{ keyId: key.id, budget: { maxCostUsd: 5 } }]);
      const plain = await keys.create({ name: 'no-budget', role: 'viewer' }, ADMIN);
      expect(plain.key.budget).toBeNull();
      expect(spendLimits.calls).toHaveLength(1);
    });

    it('refuses a bad budget at issue, naming the field, and mirrors nothing', async () => {
      const { keys, repo, spendLimits } = service();
      await expect(keys.create({ name: 'ci', role: 'operator', budget: { maxCostUsd: -1 } }, ADMIN)).rejects.toMatchObject({
        code: AuthErrorCode.KEY_INVALID,
        details: { field: 'budget.maxCostUsd' },
        message: expect.stringMatching(/^budget\.maxCostUsd must be a number above 0/),
      });
      expect(repo.rows.size).toBe(0);
      expect(spendLimits.calls).toEqual([]);
    });

    it('changes a budget with the version read, mirrors it after the write, and refuses a stale version', async () => {
      const { keys, repo, spendLimits } = service();
      const { key } = await keys.create({ name: 'ci', role: 'operator' }, ADMIN);
      const changed = await keys.changeBudget(key.id, 1, { maxTokens: 1000, maxCostUsd: 2 });
      expect(changed.version).toBe(2);
      expect(repo.rows.get(key.id)).toMatchObject({ budget: { maxTokens: 1000, maxCostUsd: 2 }, version: 2 });
      expect(spendLimits.calls).toEqual([{ keyId: key.id, budget: { maxTokens: 1000, maxCostUsd: 2 } }]);
      await expect(keys.changeBudget(key.id, 1, null)).rejects.toMatchObject({ code: AuthErrorCode.KEY_VERSION_CONFLICT });
      await expect(keys.changeBudget(key.id, 2, { maxTokens: 1.5 })).rejects.toMatchObject({
        code: AuthErrorCode.KEY_INVALID,
        details: { field: 'budget.maxTokens' },
      });
      expect(spendLimits.calls).toHaveLength(1);
      await keys.changeBudget(key.id, 2, null);
      expect(repo.rows.get(key.id)!.budget).toBeNull();
      expect(spendLimits.calls[1]).toEqual({ keyId: key.id, budget: null });
    });

    it('refuses an unknown key and the bootstrap key (it has no stored row)', async () => {
      const { keys, spendLimits } = service();
      await expect(keys.changeBudget('00000000-0000-4000-8000-000000000000', 1, null)).rejects.toMatchObject({ code: AuthErrorCode.KEY_NOT_FOUND });
      await expect(keys.changeBudget(BOOTSTRAP_KEY_ID, 1, { maxCostUsd: 1 })).rejects.toMatchObject({
        code: AuthErrorCode.KEY_INVALID,
        details: { field: 'id' },
        message: expect.stringContaining('bootstrap key (API_KEY)'),
      });
      expect(spendLimits.calls).toEqual([]);
    });

    it("reads today's spend, zero for a key that spent nothing", async () => {
      const { keys, spendLimits } = service();
      spendLimits.spent.set('a', { tokens: 10, costUsd: 0.5, minutes: 2 });
      const spent = await keys.spentToday(['a', 'b']);
      expect(spent.get('a')).toEqual({ tokens: 10, costUsd: 0.5, minutes: 2 });
      expect(spent.get('b')).toEqual({ tokens: 0, costUsd: 0, minutes: 0 });
    });
  });
});

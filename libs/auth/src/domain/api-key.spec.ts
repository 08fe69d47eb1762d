import { ApiKey } from './api-key';
import { generateSecret, hashSecret, identifyingPrefix, looksLikeStoredSecret } from './api-key-secret';
import { AuthErrorCode } from './auth.errors';
import { BootstrapKey } from './bootstrap-key';

const NOW = new Date('2030-01-01T00:00:00Z');
const issue = (overrides: Partial<Parameters<typeof ApiKey.issue>[0]> = {}) =>
  ApiKey.issue({ name: ' ci ', role: 'operator', workspaceRoots: null, expiresAt: null, createdByKeyId: 'bootstrap', ...overrides }, NOW);

describe('API key secrets', () => {
  it('are 256 random bits behind a recognisable marker, kept only as a SHA-256 digest', () => {
    const a = generateSecret();
    const b = generateSecret();
    expect(a).toMatch(/^oio_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a.slice(4), 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(looksLikeStoredSecret(a)).toBe(true);
    expect(looksLikeStoredSecret(`${a}x`)).toBe(false);
    expect(looksLikeStoredSecret('Bearer-ish')).toBe(false);
    expect(hashSecret('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(identifyingPrefix(a)).toBe(a.slice(0, 12));
  });

  it('checks the bootstrap key (API_KEY) by digest, equal or not', () => {
    const bootstrap = new BootstrapKey('s3cret-bootstrap');
    expect(bootstrap.matches('s3cret-bootstrap')).toBe(true);
    expect(bootstrap.matches('s3cret-bootstrap ')).toBe(false);
    expect(bootstrap.matches('')).toBe(false);
    expect(bootstrap.matches('x'.repeat(10_000))).toBe(false);
  });
});

describe('ApiKey', () => {
  it('is issued with its hash and prefix, never its secret', () => {
    const { key, secret } = issue({ workspaceRoots: ['/srv/a'], expiresAt: new Date('2030-02-01T00:00:00Z') });
    const s = key.snapshot();
    expect(s).toMatchObject({ name: 'ci', role: 'operator', workspaceRoots: ['/srv/a'], createdByKeyId: 'bootstrap', revokedAt: null, version: 1 });
    expect(s.keyHash).toBe(hashSecret(secret));
    expect(s.prefix).toBe(secret.slice(0, 12));
    expect(JSON.stringify(s)).not.toContain(secret);
  });

  it.each([
    [{ name: '  ' }, 'name'],
    [{ name: 'x'.repeat(101) }, 'name'],
    [{ role: 'root' as never }, 'role'],
    [{ expiresAt: NOW }, 'expiresAt'],
    [{ expiresAt: new Date(NOW.getTime() - 1) }, 'expiresAt'],
    [{ workspaceRoots: [] }, 'workspaceRoots'],
  ])('refuses %j naming %s', (overrides, field) => {
    expect(() => issue(overrides)).toThrow(expect.objectContaining({ code: AuthErrorCode.KEY_INVALID, details: expect.objectContaining({ field }) }));
  });

  it('authenticates as its principal until it expires or is revoked', () => {
    const { key } = issue({ workspaceRoots: ['/srv/a'], expiresAt: new Date(NOW.getTime() + 1000) });
    expect(key.principal(NOW)).toEqual({ principal: { keyId: key.id, name: 'ci', role: 'operator', workspaceRoots: ['/srv/a'] } });
    expect(key.status(NOW)).toBe('active');
    expect(key.principal(new Date(NOW.getTime() + 1000))).toEqual({ refused: 'expired' });
    expect(key.status(new Date(NOW.getTime() + 1000))).toBe('expired');
    expect(key.revoke(NOW)).toBe(true);
    expect(key.principal(NOW)).toEqual({ refused: 'revoked' });
    expect(key.revoke(new Date(NOW.getTime() + 5))).toBe(false);
    expect(key.revokedAt).toEqual(NOW);
  });

  it('has a daily budget: none by default, stored normalised, validated with the field named, replaced by changeBudget', () => {
    expect(issue().key.budget).toBeNull();
    const { key } = issue({ budget: { maxTokens: 1000, maxMinutes: undefined } });
    expect(key.budget).toEqual({ maxTokens: 1000 });
    expect(issue({ budget: {} }).key.budget).toBeNull();
    for (const [budget, field] of [
      [{ maxCostUsd: 0 }, 'budget.maxCostUsd'],
      [{ maxTokens: 2.5 }, 'budget.maxTokens'],
      [{ maxDollars: 3 }, 'budget.maxDollars'],
      [[1], 'budget'],
    ] as const) {
      expect(() => issue({ budget: budget as never })).toThrow(expect.objectContaining({ code: AuthErrorCode.KEY_INVALID, details: expect.objectContaining({ field }) }));
      expect(() => key.changeBudget(budget as never)).toThrow(expect.objectContaining({ code: AuthErrorCode.KEY_INVALID }));
    }
    expect(key.budget).toEqual({ maxTokens: 1000 });
    key.changeBudget({ maxCostUsd: 12.5 }, new Date('2030-01-02T00:00:00Z'));
    expect(key.snapshot()).toMatchObject({ budget: { maxCostUsd: 12.5 }, updatedAt: new Date('2030-01-02T00:00:00Z') });
    (key.snapshot().budget as { maxCostUsd: number }).maxCostUsd = 1;
    expect(key.budget).toEqual({ maxCostUsd: 12.5 });
    key.changeBudget(null);
    expect(key.budget).toBeNull();
  });
});

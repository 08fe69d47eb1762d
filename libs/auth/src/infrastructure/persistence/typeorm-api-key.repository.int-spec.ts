import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { ApiKey } from '../../domain/api-key';
import { AuthError, AuthErrorCode } from '../../domain/auth.errors';
import { ApiKeyMapper } from './api-key.mapper';
import { TypeormApiKeyRepository } from './typeorm-api-key.repository';

describe('TypeormApiKeyRepository (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let repo: TypeormApiKeyRepository;
  const tag = `repo-int-${Date.now()}-${process.pid}`;
  const issue = (name: string, roots: string[] | null = null) =>
    ApiKey.issue({ name: `${tag}-${name}`, role: 'operator', workspaceRoots: roots, expiresAt: new Date(Date.now() + 3_600_000), createdByKeyId: 'bootstrap' });

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    repo = new TypeormApiKeyRepository(dataSource);
  });
  afterAll(() => dataSource?.destroy());

  it('stores a key and finds it by the hash of its secret, with every field as it was', async () => {
    const { key } = issue('a', ['/srv/a', '/srv/b']);
    await repo.insert(key);
    const byHash = await repo.findByHash(key.snapshot().keyHash);
    const expected = { ...key.snapshot(), createdAt: expect.any(Date), updatedAt: expect.any(Date) };
    expect(byHash?.snapshot()).toEqual(expected);
    expect((await repo.findById(key.id))?.snapshot()).toEqual(expected);
    expect(await repo.findByHash('0'.repeat(64))).toBeNull();
    expect((await repo.list()).map((k) => k.id)).toContain(key.id);
  });

  it('refuses a second key with the same hash', async () => {
    const { key } = issue('twin');
    await repo.insert(key);
    const twin = ApiKey.restore({ ...key.snapshot(), id: '00000000-0000-4000-8000-' + Date.now().toString().padStart(12, '0').slice(-12) });
    await expect(repo.insert(twin)).rejects.toThrow(/ux_api_keys_key_hash/);
  });

  it('lets exactly one of two writers of the same version win, and bumps the version', async () => {
    const { key } = issue('race');
    await repo.insert(key);
    const first = (await repo.findById(key.id))!;
    const second = (await repo.findById(key.id))!;
    first.revoke(new Date('2031-01-01T00:00:00Z'));
    second.revoke(new Date('2032-01-01T00:00:00Z'));
    const results = await Promise.allSettled([repo.update(first), repo.update(second)]);
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBeInstanceOf(AuthError);
    expect(lost[0].reason).toMatchObject({ code: AuthErrorCode.KEY_VERSION_CONFLICT });
    const stored = (await repo.findByHash(key.snapshot().keyHash))!;
    expect(stored.version).toBe(2);
    expect(stored.status()).toBe('revoked');
  });

  it('stores a budget, reads it by id, hash and list, and a version-checked change of it', async () => {
    const { key } = ApiKey.issue({
      name: `${tag}-budgeted`,
      role: 'operator',
      workspaceRoots: null,
      expiresAt: null,
      createdByKeyId: 'bootstrap',
      budget: { maxCostUsd: 3.25, maxMinutes: 600 },
    });
    await repo.insert(key);
    expect((await repo.findById(key.id))!.budget).toEqual({ maxCostUsd: 3.25, maxMinutes: 600 });
    expect((await repo.findByHash(key.snapshot().keyHash))!.budget).toEqual({ maxCostUsd: 3.25, maxMinutes: 600 });
    expect((await repo.list()).find((k) => k.id === key.id)!.budget).toEqual({ maxCostUsd: 3.25, maxMinutes: 600 });
    const stale = (await repo.findById(key.id))!;
    key.changeBudget({ maxTokens: 500 });
    await repo.update(key);
    expect(key.version).toBe(2);
    expect((await repo.findByHash(key.snapshot().keyHash))!.budget).toEqual({ maxTokens: 500 });
    stale.changeBudget(null);
    await expect(repo.update(stale)).rejects.toMatchObject({ code: AuthErrorCode.KEY_VERSION_CONFLICT });
    key.changeBudget(null);
    await repo.update(key);
    expect((await repo.findById(key.id))!.budget).toBeNull();
  });

  it('reads a key stored before budgets with none', async () => {
    const { key } = issue('old-row');
    const { budget: _b, ...row } = ApiKeyMapper.toRow(key);
    await dataSource.query(
      `INSERT INTO api_keys (id, name, role, workspace_roots, key_hash, prefix, expires_at, revoked_at, created_by_key_id, version)
       VALUES ($1, $2, $3, NULL, $4, $5, NULL, NULL, 'bootstrap', 1)`,
      [row.id, row.name, row.role, row.keyHash, row.prefix],
    );
    expect((await repo.findById(key.id))!.budget).toBeNull();
    expect((await repo.findByHash(key.snapshot().keyHash))!.budget).toBeNull();
  });
});

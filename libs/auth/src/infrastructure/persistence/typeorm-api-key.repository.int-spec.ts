import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { ApiKey } from '../../domain/api-key';
import { AuthError, AuthErrorCode } from '../../domain/auth.errors';
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
});

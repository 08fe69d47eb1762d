import { ANONYMOUS_PRINCIPAL, principalReaches, roleAtLeast } from './access';

describe('access kernel', () => {
  it('orders roles viewer < operator < admin', () => {
    expect(roleAtLeast('admin', 'operator')).toBe(true);
    expect(roleAtLeast('operator', 'operator')).toBe(true);
    expect(roleAtLeast('viewer', 'operator')).toBe(false);
  });

  it('lets a key reach the workspaces inside its roots only, by whole path segments', () => {
    const key = { ...ANONYMOUS_PRINCIPAL, workspaceRoots: ['/work/team', '/srv/b'] };
    expect(principalReaches(key, '/work/team')).toBe(true);
    expect(principalReaches(key, '/work/team/app')).toBe(true);
    expect(principalReaches(key, '/srv/b/x')).toBe(true);
    expect(principalReaches(key, '/work/teamx')).toBe(false);
    expect(principalReaches(key, '/work')).toBe(false);
    expect(principalReaches(ANONYMOUS_PRINCIPAL, '/anything')).toBe(true);
  });
});

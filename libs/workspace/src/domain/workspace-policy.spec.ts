import { isInside } from '@app/shared';
import { assertWithinBoundary, WorkspaceBoundary } from './workspace-policy';
import { WorkspaceError, WorkspaceErrorCode } from './workspace.errors';

const boundary: WorkspaceBoundary = {
  roots: ['/srv/work', '/tmp'],
  forbidden: [
    { path: '/srv/work/orchestrator', what: "the orchestrator's own directory" },
    { path: '/var/lib/orchestrator', what: 'DATA_DIR' },
  ],
};

function reasonOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkspaceError);
    expect((err as WorkspaceError).code).toBe(WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS);
    return (err as WorkspaceError).details?.reason as string;
  }
}

describe('workspace boundary', () => {
  it('compares whole path segments', () => {
    expect(isInside('/srv/work/a', '/srv/work')).toBe(true);
    expect(isInside('/srv/work', '/srv/work')).toBe(true);
    expect(isInside('/srv/workshop', '/srv/work')).toBe(false);
    expect(isInside('/anything', '/')).toBe(true);
  });

  it('accepts a directory inside a root, and a root itself', () => {
    expect(reasonOf(() => assertWithinBoundary('/srv/work/project', boundary))).toBeUndefined();
    expect(reasonOf(() => assertWithinBoundary('/tmp', boundary))).toBeUndefined();
  });

  it('refuses /, directories outside every root, and names the roots', () => {
    expect(reasonOf(() => assertWithinBoundary('/', { ...boundary, roots: ['/'] }))).toBe('FILESYSTEM_ROOT');
    expect(reasonOf(() => assertWithinBoundary('/etc', boundary))).toBe('OUTSIDE_ROOTS');
    expect(() => assertWithinBoundary('/etc', boundary)).toThrow(/outside WORKSPACE_ROOTS: allowed roots are \/srv\/work, \/tmp/);
  });

  it('refuses the orchestrator and DATA_DIR, inside them or around them, whatever the roots say', () => {
    expect(reasonOf(() => assertWithinBoundary('/srv/work/orchestrator', boundary))).toBe('FORBIDDEN');
    expect(reasonOf(() => assertWithinBoundary('/srv/work/orchestrator/libs', boundary))).toBe('FORBIDDEN');
    expect(reasonOf(() => assertWithinBoundary('/var/lib', { ...boundary, roots: ['/var'] }))).toBe('FORBIDDEN');
    // /srv/work contains the orchestrator: an agent there could rewrite it.
    expect(reasonOf(() => assertWithinBoundary('/srv/work', boundary))).toBe('FORBIDDEN');
  });

  it("keeps a key's workspaces inside the key's own roots", () => {
    expect(reasonOf(() => assertWithinBoundary('/srv/work/team-a/x', boundary, ['/srv/work/team-a']))).toBeUndefined();
    expect(reasonOf(() => assertWithinBoundary('/srv/work/team-b', boundary, ['/srv/work/team-a']))).toBe('OUTSIDE_KEY_ROOTS');
  });

  it('says what a symlinked request resolved to', () => {
    expect(() => assertWithinBoundary('/etc', boundary, null, '/tmp/link')).toThrow('workspace /tmp/link is outside WORKSPACE_ROOTS (it resolves to /etc)');
  });
});

import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkspaceError, WorkspaceErrorCode } from '../domain/workspace.errors';
import { NodeWorkspaceAdapter } from './node-workspace.adapter';

/** The real filesystem: symlinks, `..` and missing directories as the kernel resolves them. */
describe('NodeWorkspaceAdapter', () => {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'orchestrator-roots-')));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  const home = join(root, 'orchestrator');
  const dataDir = join(base, 'data');
  let workspaces: NodeWorkspaceAdapter;

  beforeAll(() => {
    for (const dir of [join(root, 'a'), join(root, 'b'), outside, home, dataDir, join(root, 'team', 'x')]) mkdirSync(dir, { recursive: true });
    writeFileSync(join(root, 'file.txt'), 'not a directory');
    symlinkSync(outside, join(root, 'link-out'));
    symlinkSync(join(root, 'a'), join(root, 'link-in'));
    workspaces = new NodeWorkspaceAdapter({ roots: [root, join(base, 'missing-root')], dataDir, orchestratorHome: home });
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  async function codeOf(path: string, keyRoots?: string[]): Promise<string> {
    return workspaces.resolve(path, keyRoots).then(
      () => 'OK',
      (err: WorkspaceError) => `${err.code}:${String(err.details?.reason ?? '')}`,
    );
  }

  it('resolves a directory inside a root to its realpath, through symlinks that stay inside', async () => {
    await expect(workspaces.resolve(join(root, 'a'))).resolves.toBe(join(root, 'a'));
    await expect(workspaces.resolve(join(root, 'link-in'))).resolves.toBe(join(root, 'a'));
    await expect(workspaces.resolve(`${root}/b/../a`)).resolves.toBe(join(root, 'a'));
  });

  it('refuses /, /etc, a symlink out of the root, `..` out of it, and a sibling of the root', async () => {
    expect(await codeOf('/')).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:FILESYSTEM_ROOT`);
    expect(await codeOf('/etc')).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:OUTSIDE_ROOTS`);
    expect(await codeOf(join(root, 'link-out'))).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:OUTSIDE_ROOTS`);
    expect(await codeOf(`${root}/a/../../outside`)).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:OUTSIDE_ROOTS`);
    expect(await codeOf(outside)).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:OUTSIDE_ROOTS`);
  });

  it("refuses the orchestrator's directory and DATA_DIR even inside a root", async () => {
    expect(await codeOf(home)).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:FORBIDDEN`);
    expect(await codeOf(root)).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:FORBIDDEN`);
  });

  it('says WORKSPACE_INVALID for a relative, missing or non-directory path', async () => {
    expect(await codeOf('relative/dir')).toBe(`${WorkspaceErrorCode.WORKSPACE_INVALID}:`);
    expect(await codeOf(join(root, 'nope'))).toBe(`${WorkspaceErrorCode.WORKSPACE_INVALID}:`);
    expect(await codeOf(join(root, 'file.txt'))).toBe(`${WorkspaceErrorCode.WORKSPACE_INVALID}:`);
  });

  it("keeps a key's workspaces inside the key's roots, and its roots inside WORKSPACE_ROOTS", async () => {
    const keyRoots = await workspaces.resolveRoots([join(root, 'team')]);
    expect(keyRoots).toEqual([join(root, 'team')]);
    expect(await codeOf(join(root, 'team', 'x'), keyRoots)).toBe('OK');
    expect(await codeOf(join(root, 'a'), keyRoots)).toBe(`${WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS}:OUTSIDE_KEY_ROOTS`);
    await expect(workspaces.resolveRoots([outside])).rejects.toMatchObject({ code: WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS, details: expect.objectContaining({ field: 'workspaceRoots' }) });
  });

  it('rechecks at run time: a symlink swapped to point outside is refused', async () => {
    const swapped = join(root, 'swapped');
    symlinkSync(join(root, 'b'), swapped);
    await expect(workspaces.resolve(swapped)).resolves.toBe(join(root, 'b'));
    rmSync(swapped);
    symlinkSync(outside, swapped);
    await expect(workspaces.recheck(swapped)).rejects.toMatchObject({ code: WorkspaceErrorCode.WORKSPACE_OUTSIDE_ROOTS });
  });

  it('lists only the roots that exist, resolved', async () => {
    await expect(workspaces.roots()).resolves.toEqual([root]);
  });

  it('names this process on this host for lock owners, unless told otherwise', () => {
    expect(workspaces.hostId).toBe(`${hostname()}:${process.pid}`);
    expect(new NodeWorkspaceAdapter({ roots: [root], dataDir, orchestratorHome: home, hostId: 'host-b:7' }).hostId).toBe('host-b:7');
  });
});

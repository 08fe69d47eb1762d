import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isInside } from '@app/shared';
import { Logger } from '@nestjs/common';
import { assertWithinBoundary, WorkspaceBoundary } from '../domain/workspace-policy';
import { WorkspaceError, WorkspaceErrorCode } from '../domain/workspace.errors';
import type { WorkspacePort } from '../application/workspace.port';

export interface WorkspaceSettings {
  /** WORKSPACE_ROOTS, absolute (not yet realpath'd). */
  roots: readonly string[];
  /** DATA_DIR: the orchestrator's state, never a workspace. */
  dataDir: string;
  /** The orchestrator's own installation, never a workspace. */
  orchestratorHome: string;
  /** WORKTREES_DIR: session worktrees; inside the roots, never a workspace itself. */
  worktreesDir?: string;
  /** WorkspacePort.hostId; default `<hostname>:<pid>` of this process. */
  hostId?: string;
}

/** WorkspacePort on the local filesystem (node:fs) of this host (node:os). */
export class NodeWorkspaceAdapter implements WorkspacePort {
  readonly hostId: string;
  private readonly logger = new Logger('Workspaces');
  private boundary?: Promise<WorkspaceBoundary>;
  private realWorktreesDir?: string;

  constructor(private readonly settings: WorkspaceSettings) {
    this.hostId = settings.hostId ?? `${hostname()}:${process.pid}`;
  }

  async resolve(path: string, keyRoots?: readonly string[] | null): Promise<string> {
    const real = await this.realDirectory(path);
    const ownRoots = keyRoots ? await Promise.all(keyRoots.map((root) => realOrSelf(root))) : null;
    assertWithinBoundary(real, await this.loadBoundary(), ownRoots, path);
    return real;
  }

  async resolveRoots(roots: readonly string[]): Promise<string[]> {
    const resolved: string[] = [];
    for (const root of roots) {
      const real = await this.realDirectory(root, 'workspaceRoots');
      const boundary = await this.loadBoundary();
      try {
        assertWithinBoundary(real, boundary, null, root);
      } catch (err) {
        if (err instanceof WorkspaceError) {
          throw new WorkspaceError(err.code, err.message.replace(/^workspace /, 'workspace root '), { ...err.details, field: 'workspaceRoots' });
        }
        throw err;
      }
      if (!resolved.includes(real)) resolved.push(real);
    }
    return resolved;
  }

  recheck(path: string): Promise<string> {
    return this.resolve(path);
  }

  canonical(path: string): Promise<string> {
    return realOrSelf(path);
  }

  async isDirectory(path: string): Promise<boolean> {
    return (await stat(path).catch(() => null))?.isDirectory() ?? false;
  }

  async roots(): Promise<string[]> {
    return [...(await this.loadBoundary()).roots];
  }

  async worktreesDirectory(): Promise<string> {
    const configured = this.configuredWorktreesDir();
    const invalid = (why: string) =>
      new WorkspaceError(WorkspaceErrorCode.WORKSPACE_INVALID, `WORKTREES_DIR ${configured} ${why}`, { field: 'WORKTREES_DIR', path: configured });
    await mkdir(configured, { recursive: true, mode: 0o755 }).catch((err: Error) => {
      throw invalid(`cannot be made: ${err.message}`);
    });
    const real = await realpath(configured);
    const boundary = await this.loadBoundary();
    if (!boundary.roots.some((root) => isInside(real, root))) throw invalid(`is outside WORKSPACE_ROOTS (${boundary.roots.join(', ') || 'none'}): agents work in it`);
    for (const { path, what } of boundary.forbidden) {
      if (isInside(real, path) || isInside(path, real)) throw invalid(`overlaps ${what} (${path})`);
    }
    this.realWorktreesDir = real;
    return real;
  }

  async makeDirectory(path: string): Promise<void> {
    await mkdir(this.owned(path), { recursive: true, mode: 0o755 });
  }

  async listDirectories(path: string): Promise<string[]> {
    const entries = await readdir(this.owned(path), { withFileTypes: true }).catch(() => []);
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  }

  async removeDirectory(path: string): Promise<void> {
    await rm(this.owned(path), { recursive: true, force: true, maxRetries: 3 });
  }

  async diskUsage(path: string): Promise<number> {
    const info = await lstat(path).catch(() => null);
    if (!info) return 0;
    if (!info.isDirectory()) return info.size;
    let total = 0;
    const entries = await readdir(path).catch(() => [] as string[]);
    for (const name of entries) total += await this.diskUsage(join(path, name));
    return total;
  }

  async readNote(path: string): Promise<string | null> {
    return readFile(this.owned(path), 'utf8').catch(() => null);
  }

  async writeNote(path: string, text: string): Promise<void> {
    const target = this.owned(path);
    await mkdir(dirname(target), { recursive: true });
    // Unique per write: runs of one process may write the same note at once.
    const temporary = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(temporary, text, { mode: 0o644 });
    await rename(temporary, target);
  }

  private configuredWorktreesDir(): string {
    return resolve(this.settings.worktreesDir ?? join(this.settings.roots[0] ?? '/nonexistent', '.orchestrator-worktrees'));
  }

  /** Only what the orchestrator owns is made, listed or removed through the port's directory methods. */
  private owned(path: string): string {
    const absolute = resolve(path);
    const configured = this.configuredWorktreesDir();
    const inside = isInside(absolute, configured) || (this.realWorktreesDir !== undefined && isInside(absolute, this.realWorktreesDir));
    if (!isAbsolute(path) || !inside) {
      throw new WorkspaceError(WorkspaceErrorCode.WORKSPACE_INVALID, `${path} is not inside WORKTREES_DIR (${configured})`, { path });
    }
    return absolute;
  }

  private async realDirectory(path: string, field = 'workspace'): Promise<string> {
    const invalid = (reason: string) =>
      new WorkspaceError(WorkspaceErrorCode.WORKSPACE_INVALID, `${field === 'workspace' ? 'workspace' : 'workspace root'} ${path} ${reason}`, {
        field,
        workspace: path,
      });
    if (typeof path !== 'string' || !isAbsolute(path)) throw invalid('must be an absolute path');
    if (path.includes('\0')) throw invalid('contains a NUL character');
    const real = await realpath(path).catch(() => null);
    if (!real) throw invalid('does not exist');
    if (!(await this.isDirectory(real))) throw invalid('is not a directory');
    return real;
  }

  /** Roots and forbidden directories, resolved once (a root missing at start is skipped with a warning). */
  private loadBoundary(): Promise<WorkspaceBoundary> {
    this.boundary ??= (async () => {
      const roots: string[] = [];
      for (const root of this.settings.roots) {
        const real = await realpath(root).catch(() => null);
        if (real && (await this.isDirectory(real))) {
          if (!roots.includes(real)) roots.push(real);
        } else {
          this.logger.warn(`WORKSPACE_ROOTS: ${root} is not an existing directory; no workspace can be there`);
        }
      }
      if (roots.length === 0) this.logger.warn('WORKSPACE_ROOTS names no existing directory: every workspace will be refused');
      return {
        roots,
        forbidden: [
          { path: await realOrSelf(this.settings.dataDir), what: 'DATA_DIR' },
          { path: await realOrSelf(this.settings.orchestratorHome), what: "the orchestrator's own directory" },
        ],
        reserved: [{ path: await realOrSelf(this.configuredWorktreesDir()), what: 'WORKTREES_DIR' }],
      };
    })();
    return this.boundary;
  }
}

/** A directory that may not exist yet (DATA_DIR before the first start) is compared as written. */
async function realOrSelf(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GitCliAdapter } from '../infrastructure/git-cli.adapter';
import { NodeWorkspaceAdapter } from '../infrastructure/node-workspace.adapter';

/**
 * The real filesystem adapter for specs: workspaces under `roots` (default the system's temporary
 * directory, where specs make theirs), and forbidden directories that exist nowhere. `hostId`
 * (default this process's) lets a spec tell the lock owners of two "hosts" apart; `worktreesDir`
 * is WORKTREES_DIR (default `.orchestrator-worktrees` in the first root).
 */
export function testWorkspaces(roots: readonly string[] = [tmpdir()], hostId?: string, worktreesDir?: string): NodeWorkspaceAdapter {
  const nowhere = join('/nonexistent', `orchestrator-spec-${process.pid}`);
  return new NodeWorkspaceAdapter({ roots, dataDir: join(nowhere, 'data'), orchestratorHome: join(nowhere, 'home'), hostId, worktreesDir });
}

/** The real git adapter for specs (temporary repositories are cheap; git is never faked). */
export function testGit(): GitCliAdapter {
  return new GitCliAdapter();
}

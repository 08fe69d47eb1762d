import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface TempWorkspaceOptions {
  /** Initialise a git work tree with one commit (OpenCode's per-turn diff needs git). */
  git?: boolean;
  /** Files to create first, by relative path. */
  files?: Record<string, string>;
}

// Per test file: jest gives every file its own module registry.
const createdDirs = new Set<string>();

/**
 * A fresh directory under the system's temporary directory (inside the default WORKSPACE_ROOTS
 * and the shared test OpenCode server's writable root), removed when the test file ends.
 */
export function makeTempWorkspace(options: TempWorkspaceOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'orchestrator-ws-'));
  createdDirs.add(dir);
  for (const [path, content] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  if (options.git) {
    git(dir, 'init', '-q');
    git(dir, 'add', '-A');
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'initial');
  }
  return dir;
}

/** Runs git in `repo` as a test's own command (with an identity); its trimmed output. */
export function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.email=tests@example.invalid', '-c', 'user.name=tests', ...args], { cwd: repo, encoding: 'utf8' }).trim();
}

/** Removes every directory makeTempWorkspace() made in this file (the file setup does it at the end). */
export function removeTempWorkspaces(): void {
  for (const dir of createdDirs) rmSync(dir, { recursive: true, force: true });
  createdDirs.clear();
}

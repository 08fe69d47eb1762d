import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const IDENTITY = ['-c', 'user.name=Benchmark', '-c', 'user.email=bench@example.invalid'];

/** git in `cwd`, with an identity and no global config needed; returns its trimmed output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', [...IDENTITY, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** A new repository at `dir` (branch main) with one commit holding README.md; returns its realpath. */
export function makeRepository(dir: string): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  writeFileSync(join(dir, 'README.md'), `# ${dir}\n`);
  git(dir, 'add', 'README.md');
  git(dir, 'commit', '-q', '-m', 'Initial commit');
  return realpathSync(dir);
}

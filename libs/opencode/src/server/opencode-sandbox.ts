import { posix } from 'node:path';

/** OPENCODE_SANDBOX: bubblewrap when available (auto), always (bwrap: refuse to start without it), never (none). */
export type OpencodeSandboxMode = 'auto' | 'bwrap' | 'none';

/** What the sandboxed server may see and write. Every path absolute, already resolved (realpath). */
export interface SandboxLayout {
  /** The server's own data dir (HOME, XDG dirs, database, log): writable. */
  dataDir: string;
  /** The workspace roots: writable (one server serves every workspace). */
  writableRoots: readonly string[];
  /** Read-only even when inside a writable root: the orchestrator's own directory. */
  readOnlyDirs: readonly string[];
  /** Replaced by an empty directory: the user's home, with its keys and tokens. */
  hiddenDirs: readonly string[];
  /** Replaced by an unreadable device node: secret files in a visible directory (the orchestrator's .env files). */
  hiddenFiles: readonly string[];
  /** Shown read-only even inside a hidden dir: credential and config files the passed variables name. */
  readablePaths: readonly string[];
  /** The server's working directory. */
  cwd: string;
}

/** What each kind of mount does, and its rank when two of them name the same path (the later wins). */
const MOUNT_RANK = { hide: 0, writable: 1, readOnly: 2, readable: 3, data: 4, hideFile: 5 } as const;
type MountKind = keyof typeof MOUNT_RANK;

/**
 * The bubblewrap command line that runs `command` in the sandbox:
 * - `--ro-bind / /`: the whole system read-only (recursively, every mount below it too);
 * - `--dev /dev`, `--proc /proc` with `--unshare-pid`: a minimal /dev and a /proc of its own PID
 *   namespace, so the agent's shell cannot see the orchestrator's processes nor read their
 *   /proc/<pid>/environ;
 * - `--tmpfs /tmp` and `--tmpfs <home>`: a private, empty /tmp and home;
 * - the workspace roots and the data dir bound writable, the orchestrator's directory read-only;
 * - `--die-with-parent`: bwrap dies with the process that spawned it (the worker, even when
 *   SIGKILLed) and the sandbox with bwrap (kill semantics unchanged: killing bwrap's process group
 *   kills the server and every tool it started);
 * - `--new-session`: no terminal to push keystrokes into (TIOCSTI).
 * Mounts are applied from the shallowest path to the deepest, so a deeper rule wins: a root
 * inside the hidden home is visible, the orchestrator's directory inside a root stays read-only,
 * the data dir inside the orchestrator's directory stays writable.
 */
export function bwrapArguments(layout: SandboxLayout, command: readonly string[]): string[] {
  const mounts: Array<{ kind: MountKind; path: string }> = [
    { kind: 'hide' as const, path: '/tmp' },
    ...layout.hiddenDirs.map((path) => ({ kind: 'hide' as const, path })),
    ...layout.writableRoots.map((path) => ({ kind: 'writable' as const, path })),
    ...layout.readOnlyDirs.map((path) => ({ kind: 'readOnly' as const, path })),
    ...layout.readablePaths.map((path) => ({ kind: 'readable' as const, path })),
    { kind: 'data' as const, path: layout.dataDir },
    ...layout.hiddenFiles.map((path) => ({ kind: 'hideFile' as const, path })),
  ]
    .map((m): { kind: MountKind; path: string } => ({ kind: m.kind, path: posix.normalize(m.path).replace(/(.)\/+$/, '$1') }))
    .filter((m) => posix.isAbsolute(m.path) && m.path !== '/');
  const unique = new Map<string, { kind: MountKind; path: string }>();
  for (const mount of mounts) unique.set(`${mount.kind}\0${mount.path}`, mount);
  const ordered = [...unique.values()].sort((a, b) => depth(a.path) - depth(b.path) || MOUNT_RANK[a.kind] - MOUNT_RANK[b.kind]);

  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc'];
  for (const { kind, path } of ordered) {
    if (kind === 'hide') args.push('--tmpfs', path);
    else if (kind === 'writable' || kind === 'data') args.push('--bind', path, path);
    else if (kind === 'hideFile') args.push('--ro-bind', '/dev/null', path);
    else args.push('--ro-bind', path, path);
  }
  args.push('--unshare-pid', '--die-with-parent', '--new-session', '--chdir', layout.cwd, '--', ...command);
  return args;
}

/** The flags the sandbox needs from the kernel, tried once before the server starts (see probeArguments). */
export function probeArguments(): string[] {
  return ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--unshare-pid', '--die-with-parent', '--new-session', 'true'];
}

/**
 * The arguments of util-linux `setpriv` that run `command` under a parent-death
 * signal: setpriv asks the kernel (prctl PR_SET_PDEATHSIG) for SIGKILL when the process that spawned
 * it dies, then execs `command` in its place (same pid, same process group, setting kept across exec).
 * So an unsandboxed server dies with its worker even when the worker gets SIGKILL (the OOM killer)
 * and runs no exit hook. The kernel watches the spawning *thread*: Node spawns from the thread that
 * calls spawn(), the main one here. Only the server itself gets the signal; the tools it started are
 * reparented (in the sandbox, the PID namespace takes them down with it).
 */
export function parentDeathArguments(command: readonly string[]): string[] {
  return ['--pdeathsig', 'KILL', '--', ...command];
}

/**
 * Tried once before an unsandboxed server starts (util-linux before 2.33 has no --pdeathsig): setpriv
 * runs itself, a command that is there wherever it is.
 */
export function parentDeathProbeArguments(setpriv: string): string[] {
  return parentDeathArguments([setpriv, '--version']);
}

/**
 * Whether to sandbox. `bwrap`: `bwrapPath` found and its probe passed (`probeError` undefined), or a
 * clear error. `auto`: the same, but without a working bubblewrap no sandbox, and `reason` says why
 * (a container may forbid the namespaces bwrap creates). `none`: never.
 */
export function chooseSandbox(
  mode: OpencodeSandboxMode,
  bwrapPath: string | undefined,
  probeError?: string,
): { bwrap?: string; reason?: string } {
  if (mode === 'none') return { reason: 'OPENCODE_SANDBOX=none' };
  if (bwrapPath && probeError === undefined) return { bwrap: bwrapPath };
  const reason = bwrapPath
    ? `${bwrapPath} cannot create a sandbox here: ${probeError}`
    : 'no `bwrap` executable is on PATH';
  if (mode === 'bwrap') {
    throw new Error(
      `OPENCODE_SANDBOX=bwrap but ${reason}. ` +
        (bwrapPath
          ? 'bubblewrap needs user namespaces (or root); in a container, allow them or run OpenCode as its own service. '
          : 'Install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap). ') +
        'OPENCODE_SANDBOX=auto|none runs OpenCode without an OS sandbox.',
    );
  }
  return { reason: `OPENCODE_SANDBOX=auto, ${reason}` };
}

/** Finds an executable by name on a PATH string (the first match), without running anything. */
export function findOnPath(name: string, path: string | undefined, isExecutable: (file: string) => boolean): string | undefined {
  for (const dir of (path ?? '').split(':')) {
    if (!dir || !posix.isAbsolute(dir)) continue;
    const candidate = posix.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function depth(path: string): number {
  return path.split('/').filter(Boolean).length;
}

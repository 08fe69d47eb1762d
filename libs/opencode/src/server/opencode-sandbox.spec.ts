import { bwrapArguments, chooseSandbox, findOnPath, parentDeathArguments, parentDeathProbeArguments, probeArguments, SandboxLayout } from './opencode-sandbox';

const layout: SandboxLayout = {
  dataDir: '/srv/orchestrator/.orchestrator/opencode',
  writableRoots: ['/srv', '/tmp/work/'],
  readOnlyDirs: ['/srv/orchestrator'],
  hiddenDirs: ['/home/me'],
  hiddenFiles: ['/srv/orchestrator/.env'],
  readablePaths: ['/home/me/.config/gcloud/key.json'],
  cwd: '/srv/orchestrator/.orchestrator/opencode/home',
};

/** The mount options in order, as [flag, path] pairs. */
function mountsOf(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    if (args[i] === '--tmpfs') out.push(`tmpfs ${args[++i]}`);
    else if (args[i] === '--bind') out.push(`rw ${args[(i += 2)]}`);
    else if (args[i] === '--ro-bind') out.push(`ro ${args[i + 2]} <- ${args[(i += 2) - 1]}`);
  }
  return out;
}

describe('bwrapArguments', () => {
  const args = bwrapArguments(layout, ['/opt/opencode', 'serve', '--port', '4096']);

  it('starts read-only with its own /dev, /proc and PID namespace, and ends with the command', () => {
    expect(args.slice(0, 7)).toEqual(['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc']);
    expect(args).toEqual(expect.arrayContaining(['--unshare-pid', '--die-with-parent', '--new-session']));
    expect(args.slice(args.indexOf('--chdir'))).toEqual([
      '--chdir',
      '/srv/orchestrator/.orchestrator/opencode/home',
      '--',
      '/opt/opencode',
      'serve',
      '--port',
      '4096',
    ]);
  });

  it('applies the mounts shallow to deep, so that the deeper rule wins', () => {
    expect(mountsOf(args)).toEqual([
      'ro / <- /',
      'tmpfs /tmp',
      'rw /srv',
      'tmpfs /home/me',
      'rw /tmp/work',
      'ro /srv/orchestrator <- /srv/orchestrator',
      'ro /srv/orchestrator/.env <- /dev/null',
      'rw /srv/orchestrator/.orchestrator/opencode',
      'ro /home/me/.config/gcloud/key.json <- /home/me/.config/gcloud/key.json',
    ]);
  });

  it('binds a root that is /tmp itself over the private /tmp, and the home root over the hidden home', () => {
    const mounts = mountsOf(bwrapArguments({ ...layout, writableRoots: ['/tmp', '/home/me'] }, ['x']));
    expect(mounts.indexOf('rw /tmp')).toBeGreaterThan(mounts.indexOf('tmpfs /tmp'));
    expect(mounts.indexOf('rw /home/me')).toBeGreaterThan(mounts.indexOf('tmpfs /home/me'));
  });

  it('keeps the orchestrator\'s directory read-only when a root is that very directory', () => {
    const mounts = mountsOf(bwrapArguments({ ...layout, writableRoots: ['/srv/orchestrator'] }, ['x']));
    expect(mounts.indexOf('ro /srv/orchestrator <- /srv/orchestrator')).toBeGreaterThan(mounts.indexOf('rw /srv/orchestrator'));
  });

  it('never mounts over / itself, and names each mount once', () => {
    const mounts = mountsOf(bwrapArguments({ ...layout, writableRoots: ['/', '/srv', '/srv/'], hiddenDirs: ['/'] }, ['x']));
    expect(mounts.filter((m) => m === 'rw /srv')).toHaveLength(1);
    expect(mounts.filter((m) => m.endsWith(' /') || m === 'tmpfs /')).toEqual(['ro / <- /']);
  });
});

describe('chooseSandbox', () => {
  it('uses a working bubblewrap, unless told not to', () => {
    expect(chooseSandbox('auto', '/usr/bin/bwrap')).toEqual({ bwrap: '/usr/bin/bwrap' });
    expect(chooseSandbox('bwrap', '/usr/bin/bwrap')).toEqual({ bwrap: '/usr/bin/bwrap' });
    expect(chooseSandbox('none', '/usr/bin/bwrap')).toEqual({ reason: 'OPENCODE_SANDBOX=none' });
  });

  it('runs without a sandbox in auto mode when bubblewrap is missing or does not work, saying why', () => {
    expect(chooseSandbox('auto', undefined)).toEqual({ reason: 'OPENCODE_SANDBOX=auto, no `bwrap` executable is on PATH' });
    expect(chooseSandbox('auto', '/usr/bin/bwrap', 'Operation not permitted')).toEqual({
      reason: 'OPENCODE_SANDBOX=auto, /usr/bin/bwrap cannot create a sandbox here: Operation not permitted',
    });
  });

  it('refuses bwrap mode without a working bubblewrap, saying how to fix it', () => {
    expect(() => chooseSandbox('bwrap', undefined)).toThrow(/OPENCODE_SANDBOX=bwrap but no `bwrap` executable is on PATH.*apt-get install bubblewrap/);
    expect(() => chooseSandbox('bwrap', '/usr/bin/bwrap', 'bwrap: No permissions to creating new namespace')).toThrow(
      /cannot create a sandbox here: bwrap: No permissions.*user namespaces/,
    );
  });

  it('probes with the namespaces and mounts the sandbox uses', () => {
    expect(probeArguments()).toEqual(expect.arrayContaining(['--unshare-pid', '--proc', '--dev', '--tmpfs', '--die-with-parent']));
  });
});

describe('parentDeathArguments', () => {
  it('asks setpriv for SIGKILL on the parent\'s death, then execs the command, its arguments untouched', () => {
    expect(parentDeathArguments(['/opt/opencode', 'serve', '--port', '4096', '--hostname', '--not-an-option'])).toEqual([
      '--pdeathsig',
      'KILL',
      '--',
      '/opt/opencode',
      'serve',
      '--port',
      '4096',
      '--hostname',
      '--not-an-option',
    ]);
  });

  it('probes with the same option on setpriv itself, a command that exists wherever setpriv does', () => {
    expect(parentDeathProbeArguments('/usr/bin/setpriv')).toEqual(['--pdeathsig', 'KILL', '--', '/usr/bin/setpriv', '--version']);
  });
});

describe('findOnPath', () => {
  it('takes the first executable match of an absolute PATH entry', () => {
    const executables = new Set(['/usr/bin/bwrap', '/usr/local/bin/bwrap']);
    expect(findOnPath('bwrap', 'relative:/usr/local/bin:/usr/bin', (f) => executables.has(f))).toBe('/usr/local/bin/bwrap');
    expect(findOnPath('bwrap', '/bin', (f) => executables.has(f))).toBeUndefined();
    expect(findOnPath('bwrap', undefined, () => true)).toBeUndefined();
  });
});

import { helpText, parseArgs, UsageError } from './args';

const parse = (line: string[], env = {}) => parseArgs(line, env);
const command = (line: string[], env = {}) => {
  const parsed = parse(line, env);
  if (parsed.kind !== 'command') throw new Error(`expected a command, got ${parsed.kind}`);
  return parsed;
};
const usage = (line: string[]) => {
  try {
    parse(line);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('parseArgs', () => {
  it('reads run with every option, in any order, with = or a separate value', () => {
    const p = command([
      'run', '--workspace', 'ws', '--prompt=do it', '--title', 'T', '--role', 'reviewer', '--skills', 'typescript, sql',
      '--agent-id', 'abc', '--timeout', '30', '--complexity=7', '--model', 'p/m', '--no-follow',
    ]);
    expect(p.command).toBe('run');
    expect(p.options).toEqual({
      workspace: 'ws', prompt: 'do it', title: 'T', role: 'REVIEWER', skills: ['typescript', 'sql'], 'agent-id': 'abc',
      timeout: 30, complexity: 7, model: 'p/m', follow: false,
    });
  });

  it('follows by default and takes global options anywhere on the line', () => {
    const p = command(['--json', 'run', '--prompt', 'x', '--url', 'http://h:1/', '--workspace', '/w', '--api-key', 'secret-key']);
    expect(p.options.follow).toBe(true);
    expect(p.global).toEqual({ url: 'http://h:1', apiKey: 'secret-key', json: true });
  });

  it('takes the URL and key from the environment unless given, with the documented default', () => {
    expect(command(['sessions']).global).toEqual({ url: 'http://localhost:3000', apiKey: undefined, json: false });
    const fromEnv = command(['sessions'], { ORCHESTRATOR_URL: 'https://orch.example/', API_KEY: 'k-from-env' }).global;
    expect(fromEnv).toEqual({ url: 'https://orch.example', apiKey: 'k-from-env', json: false });
    expect(command(['sessions', '--url', 'http://x'], { ORCHESTRATOR_URL: 'http://y' }).global.url).toBe('http://x');
  });

  it('reads positionals and numeric options', () => {
    expect(command(['follow', 'id-1']).positionals).toEqual({ id: 'id-1' });
    expect(command(['agent-performance', 'reviewer', '--last', '10'])).toMatchObject({ positionals: { id: 'reviewer' }, options: { last: 10 } });
    expect(command(['sessions', '--status', 'running', '--limit', '5']).options).toEqual({ status: 'RUNNING', limit: 5 });
    expect(command(['plans', '--limit', '3']).options).toEqual({ limit: 3 });
  });

  it('reads the worktree options of run, and the merge commands with their target and strategy', () => {
    expect(command(['run', '--workspace', 'w', '--prompt', 'p', '--isolation', 'Worktree', '--base', 'release/1.2']).options).toMatchObject({
      isolation: 'worktree',
      base: 'release/1.2',
    });
    expect(command(['run', '--workspace', 'w', '--prompt', 'p', '--isolation=shared']).options.isolation).toBe('shared');
    expect(command(['diff', 'id-1', '--json'])).toMatchObject({ command: 'diff', positionals: { id: 'id-1' }, options: {}, global: { json: true } });
    expect(command(['merge', 'id-1'])).toMatchObject({ positionals: { id: 'id-1' }, options: {} });
    expect(command(['merge', 'id-1', '--target', 'main', '--strategy', 'SQUASH']).options).toEqual({ target: 'main', strategy: 'squash' });
    expect(command(['discard', 'id-1']).positionals).toEqual({ id: 'id-1' });
    expect(command(['plan-merge', 'p-1', '--strategy=rebase', '--target=release']).options).toEqual({ target: 'release', strategy: 'rebase' });
  });

  it('answers help and version', () => {
    expect(parse([])).toMatchObject({ kind: 'help', command: undefined });
    expect(parse(['--help'])).toMatchObject({ kind: 'help' });
    expect(parse(['help', 'run'])).toMatchObject({ kind: 'help', command: 'run' });
    expect(parse(['run', '-h'])).toMatchObject({ kind: 'help', command: 'run' });
    expect(parse(['--version'])).toMatchObject({ kind: 'version' });
  });

  it('names exactly what is wrong', () => {
    expect(usage(['frobnicate'])).toMatch(/unknown command "frobnicate"; commands: run, follow, sessions/);
    expect(usage(['run', '--prompt', 'x'])).toBe('"run" needs --workspace DIR');
    expect(usage(['run', '--workspace', 'w'])).toBe('"run" needs --prompt TEXT');
    expect(usage(['run', '--workspace'])).toBe('--workspace needs a value (DIR)');
    expect(usage(['run', '--workspace', '--prompt', 'x'])).toBe('--workspace needs a value (DIR)');
    expect(usage(['sessions', '--limit', 'many'])).toBe('--limit must be a whole number, got "many"');
    expect(usage(['sessions', '--limit', '0'])).toBe('--limit must be between 1 and 200, got 0');
    expect(usage(['sessions', '--status', 'DONE'])).toMatch(/^--status must be one of PENDING, QUEUED/);
    expect(usage(['sessions', '--prompt', 'x'])).toBe('unknown option --prompt for "sessions"');
    expect(usage(['sessions', '-x'])).toMatch(/unknown option "-x"/);
    expect(usage(['follow'])).toBe('"follow" needs ID (the session\'s id)');
    expect(usage(['show', 'a', 'b'])).toBe('"show" takes one argument, got extra "b"');
    expect(usage(['sessions', 'x'])).toBe('"sessions" takes no arguments, got extra "x"');
    expect(usage(['sessions', '--url', 'localhost:3000'])).toMatch(/--url must be an http\(s\) URL/);
    expect(usage(['run', '--role', 'boss', '--workspace', 'w', '--prompt', 'p'])).toMatch(/--role must be one of ARCHITECT, IMPLEMENTER, REVIEWER, DEBUGGER/);
    expect(usage(['run', '--workspace', 'w', '--prompt', 'p', '--isolation', 'own'])).toBe('--isolation must be one of worktree, shared, got "own"');
    expect(usage(['run', '--workspace', 'w', '--prompt', 'p', '--base'])).toBe('--base needs a value (REF)');
    expect(usage(['merge', 'id-1', '--strategy', 'octopus'])).toBe('--strategy must be one of merge, squash, rebase, got "octopus"');
    expect(usage(['merge', 'id-1', '--target', ''])).toBe('--target must not be empty');
    expect(usage(['merge'])).toBe('"merge" needs ID (the session\'s id)');
    expect(usage(['plan-merge'])).toBe('"plan-merge" needs ID (the plan\'s id)');
    expect(usage(['discard', 'a', 'b'])).toBe('"discard" takes one argument, got extra "b"');
    expect(usage(['diff', 'id-1', '--format', 'json'])).toBe('unknown option --format for "diff"');
  });

  it('lets a value start with a dash when given with =, and takes operands after --', () => {
    expect(command(['run', '--workspace', 'w', '--prompt=--weird']).options.prompt).toBe('--weird');
    expect(command(['show', '--', '-odd']).positionals.id).toBe('-odd');
  });
});

describe('helpText', () => {
  it('lists every command, and each command its options', () => {
    const all = helpText();
    for (const c of ['run', 'follow ID', 'sessions', 'show ID', 'cancel ID', 'diff ID', 'merge ID', 'discard ID', 'plans', 'plan ID', 'plan-merge ID', 'agents', 'agent-performance ID']) {
      expect(all).toContain(`  ${c}`);
    }
    expect(all).toMatch(/Exit codes: 0/);
    const run = helpText('run');
    expect(run).toMatch(/^Usage: orchestrator run --workspace DIR --prompt TEXT \[options\]/);
    for (const o of ['--title T', '--role R', '--skills a,b', '--agent-id ID', '--timeout S', '--isolation I', '--base REF', '--no-follow', '--url URL', '--api-key KEY', '--json']) {
      expect(run).toContain(o);
    }
    for (const name of ['merge', 'plan-merge']) {
      const help = helpText(name);
      expect(help).toMatch(new RegExp(`^Usage: orchestrator ${name} ID \\[options\\]`));
      expect(help).toMatch(/--target BRANCH\s+the branch to merge into/);
      expect(help).toMatch(/--strategy S\s+merge \(a merge commit, the default\), squash \(one commit\) or rebase/);
    }
    expect(helpText('diff')).toMatch(/^Usage: orchestrator diff ID\n\nwhat a worktree session's branch changed: the unified diff \(--json: per file\)/);
  });
});

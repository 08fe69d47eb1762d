import {
  buildSessionRuleset,
  DEFAULT_TURN_POLICY,
  OpencodePermissionRule,
  PermissionAction,
  TurnPolicy,
} from './permission-ruleset';

/** OpenCode 1.18.33's evaluation: the last rule matching permission and pattern (wildcards), else ask. */
function evaluate(permission: string, pattern: string, ...rulesets: OpencodePermissionRule[][]): PermissionAction {
  const match = (value: string, glob: string) =>
    new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's').test(value);
  const rule = [...rulesets.flat()].reverse().find((r) => match(permission, r.permission) && match(pattern, r.pattern));
  return rule?.action ?? 'ask';
}

/** The rules a permissive server config gives every agent before the session's rules. */
const PERMISSIVE_AGENT: OpencodePermissionRule[] = [
  { permission: '*', pattern: '*', action: 'allow' },
  { permission: 'external_directory', pattern: '*', action: 'allow' },
];

const policy = (readOnly: boolean, permissions: TurnPolicy['permissions'] = {}): TurnPolicy => ({ readOnly, permissions });

describe('buildSessionRuleset', () => {
  it('denies external directories and questions last, even for a turn that names no policy', () => {
    const rules = buildSessionRuleset();
    expect(rules).toEqual([
      { permission: 'external_directory', pattern: '*', action: 'deny' },
      { permission: 'question', pattern: '*', action: 'deny' },
    ]);
    expect(buildSessionRuleset(DEFAULT_TURN_POLICY)).toEqual(rules);
    expect(evaluate('external_directory', '/etc/*', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('question', '*', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('bash', 'npm test', PERMISSIVE_AGENT, rules)).toBe('allow');
  });

  it('gives a read-only turn the read and search tools only, whatever the agent allows', () => {
    const rules = buildSessionRuleset(policy(true));
    for (const tool of ['read', 'glob', 'grep', 'list']) expect(evaluate(tool, 'src/a.ts', PERMISSIVE_AGENT, rules)).toBe('allow');
    for (const tool of ['edit', 'bash', 'task', 'webfetch', 'todowrite', 'skill', 'some_tool_added_later']) {
      expect(evaluate(tool, '*', PERMISSIVE_AGENT, rules)).toBe('deny');
    }
    expect(evaluate('external_directory', '/tmp/*', PERMISSIVE_AGENT, rules)).toBe('deny');
  });

  it('keeps the dotenv protection of a read-only turn as ask', () => {
    const rules = buildSessionRuleset(policy(true));
    expect(evaluate('read', 'config/.env', PERMISSIVE_AGENT, rules)).toBe('ask');
    expect(evaluate('read', '.env.production', PERMISSIVE_AGENT, rules)).toBe('ask');
    expect(evaluate('read', '.env.example', PERMISSIVE_AGENT, rules)).toBe('allow');
  });

  it('applies the binding permissions after the defaults, sorted by name', () => {
    const rules = buildSessionRuleset(policy(false, { webfetch: 'deny', bash: 'deny', edit: 'allow' }));
    expect(rules.map((r) => `${r.permission}:${r.action}`)).toEqual([
      'bash:deny',
      'edit:allow',
      'webfetch:deny',
      'external_directory:deny',
      'question:deny',
    ]);
    expect(evaluate('bash', 'ls', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('edit', 'a.ts', PERMISSIVE_AGENT, rules)).toBe('allow');
  });

  it('lets nothing a binding says override the hard rules', () => {
    const rules = buildSessionRuleset(policy(false, { external_directory: 'allow', question: 'ask' }));
    expect(evaluate('external_directory', '/etc/*', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('question', '*', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(rules.filter((r) => r.action !== 'deny')).toEqual([]);
  });

  it('keeps only the tightening binding rules on a read-only turn', () => {
    const rules = buildSessionRuleset(policy(true, { bash: 'allow', edit: 'ask', grep: 'deny', read: 'allow', glob: 'ask' }));
    expect(evaluate('bash', 'ls', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('edit', 'a.ts', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('grep', '*', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('glob', '*', PERMISSIVE_AGENT, rules)).toBe('ask');
    expect(evaluate('read', '.env', PERMISSIVE_AGENT, rules)).toBe('ask');
    expect(evaluate('read', 'a.ts', PERMISSIVE_AGENT, rules)).toBe('allow');
  });

  it('denies subagents when the binding asks for something (they would not inherit the ask)', () => {
    const asking = buildSessionRuleset(policy(false, { bash: 'ask', task: 'allow' }));
    expect(evaluate('bash', 'ls', PERMISSIVE_AGENT, asking)).toBe('ask');
    expect(evaluate('task', 'general', PERMISSIVE_AGENT, asking)).toBe('deny');
    expect(evaluate('task', 'general', PERMISSIVE_AGENT, buildSessionRuleset(policy(false, { bash: 'deny' })))).toBe('allow');
  });

  it('denies switched-off tools by the permission they ask for, after the binding', () => {
    const rules = buildSessionRuleset(policy(false, { bash: 'allow' }), ['bash', 'write', 'multiedit', 'webfetch', 'Not A Tool']);
    expect(rules.map((r) => `${r.permission}:${r.action}`)).toEqual([
      'bash:allow',
      'bash:deny',
      'edit:deny',
      'webfetch:deny',
      'external_directory:deny',
      'question:deny',
    ]);
    expect(evaluate('bash', 'ls', PERMISSIVE_AGENT, rules)).toBe('deny');
    expect(evaluate('edit', 'a.ts', PERMISSIVE_AGENT, rules)).toBe('deny');
  });

  it('ignores names and actions that are not OpenCode permissions', () => {
    const rules = buildSessionRuleset(policy(false, { '*': 'allow', 'Bash Tool': 'deny', edit: 'maybe' as PermissionAction }));
    expect(rules).toEqual(buildSessionRuleset());
  });
});

import { Agent, WRITING_TOOLS } from './agent';
import { AgentRole } from './agent-role';
import { AgentError, AgentErrorCode } from './agent.errors';
import { parseReviewVerdict } from './review-verdict';

const base = {
  name: 'impl',
  role: AgentRole.IMPLEMENTER,
  capabilities: [{ skill: 'typescript', level: 5 }],
  maxConcurrentSessions: 3,
  binding: { opencodeAgent: 'build', model: 'rehearsal/scripted', systemInstructions: 'be careful', disabledTools: [] },
};

describe('Agent', () => {
  it('is created valid and exposes skill levels', () => {
    const a = Agent.create(base);
    expect(a.levelOf('typescript')).toBe(5);
    expect(a.levelOf('sql')).toBe(0);
    expect(a.enabled).toBe(true);
    expect(a.binding.disabledTools).toEqual([]);
  });

  it('always switches the writing tools off for Reviewers and Architects', () => {
    const reviewer = Agent.create({ ...base, role: AgentRole.REVIEWER, binding: { ...base.binding, disabledTools: ['webfetch'] } });
    expect(reviewer.binding.disabledTools).toEqual([...WRITING_TOOLS, 'webfetch'].sort());
    const a = Agent.create(base);
    a.update({ role: AgentRole.ARCHITECT });
    expect(a.binding.disabledTools).toEqual(expect.arrayContaining([...WRITING_TOOLS]));
  });

  it('gives the writing tools back when the role leaves a read-only one, keeping the other tools', () => {
    const a = Agent.create({ ...base, role: AgentRole.REVIEWER, binding: { ...base.binding, disabledTools: ['webfetch'] } });
    a.update({ role: AgentRole.IMPLEMENTER });
    expect(a.binding.disabledTools).toEqual(['webfetch']);
    a.update({ role: AgentRole.ARCHITECT });
    a.update({ role: AgentRole.DEBUGGER, binding: { disabledTools: ['bash', 'webfetch'] } });
    expect(a.binding.disabledTools).toEqual(['bash', 'webfetch']);
  });

  it('keeps binding permissions sorted by name, replaced as a whole by an update', () => {
    const a = Agent.create({ ...base, binding: { ...base.binding, permissions: { webfetch: 'deny', bash: 'ask' } } });
    expect(Object.entries(a.binding.permissions)).toEqual([
      ['bash', 'ask'],
      ['webfetch', 'deny'],
    ]);
    a.update({ binding: { permissions: { external_directory: 'deny', edit: 'allow' } } });
    expect(a.binding.permissions).toEqual({ edit: 'allow', external_directory: 'deny' });
    a.update({ binding: { systemInstructions: 'other' } });
    expect(a.binding.permissions).toEqual({ edit: 'allow', external_directory: 'deny' });
    expect(Agent.create(base).binding.permissions).toEqual({});
  });

  it('does not share its permissions with a snapshot', () => {
    const a = Agent.create({ ...base, binding: { ...base.binding, permissions: { bash: 'deny' } } });
    (a.snapshot().binding.permissions as Record<string, string>).bash = 'allow';
    expect(a.binding.permissions).toEqual({ bash: 'deny' });
  });

  it('is read-only as ARCHITECT or REVIEWER', () => {
    const a = Agent.create(base);
    expect(a.readOnly).toBe(false);
    a.update({ role: AgentRole.REVIEWER });
    expect(a.readOnly).toBe(true);
  });

  it('reads an undefined binding field as unchanged', () => {
    const a = Agent.create(base);
    a.update({ binding: { model: undefined, opencodeAgent: undefined, systemInstructions: 'new' } });
    expect(a.binding).toMatchObject({ opencodeAgent: 'build', model: 'rehearsal/scripted', systemInstructions: 'new' });
  });

  it.each([
    ['capabilities[0].level', { capabilities: [{ skill: 'typescript', level: 6 }] }],
    ['capabilities[0].level', { capabilities: [{ skill: 'typescript', level: 0 }] }],
    ['capabilities[0].skill', { capabilities: [{ skill: 'Type Script', level: 3 }] }],
    ['capabilities[1].skill', { capabilities: [{ skill: 'sql', level: 3 }, { skill: 'sql', level: 2 }] }],
    ['role', { role: 'WIZARD' as AgentRole }],
    ['maxConcurrentSessions', { maxConcurrentSessions: 0 }],
    ['binding.model', { binding: { model: 'no-slash' } }],
    ['binding.disabledTools[0]', { binding: { disabledTools: ['Bad Tool'] } }],
    ['binding.permissions.bash', { binding: { permissions: { bash: 'sometimes' } } }],
    ['binding.permissions', { binding: { permissions: { 'Bad Name': 'deny' } } }],
    ['binding.permissions', { binding: { permissions: { '*': 'allow' } } }],
    ['binding.permissions', { binding: { permissions: ['bash'] } }],
    ['binding.permissions.external_directory', { binding: { permissions: { external_directory: 'allow' } } }],
    ['binding.permissions.question', { binding: { permissions: { question: 'ask' } } }],
    ['name', { name: '  ' }],
  ])('refuses a bad %s and changes nothing', (field, changes) => {
    const a = Agent.create(base);
    const before = a.snapshot();
    let error: unknown;
    try {
      a.update(changes as never);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentError);
    expect(error).toMatchObject({ code: AgentErrorCode.AGENT_INVALID, details: { field } });
    expect(a.snapshot()).toEqual(before);
  });
});

describe('parseReviewVerdict', () => {
  it('reads the fixed format', () => {
    expect(parseReviewVerdict('VERDICT: APPROVE\nQUALITY: 8/10\n- fine')).toEqual({ verdict: 'APPROVE', quality: 8 });
    expect(parseReviewVerdict('Some preface\n  verdict: request_changes\nQuality: 3.5 / 10')).toEqual({ verdict: 'REQUEST_CHANGES', quality: 3.5 });
    expect(parseReviewVerdict('QUALITY: 10/10\nVERDICT: APPROVE')).toEqual({ verdict: 'APPROVE', quality: 10 });
    expect(parseReviewVerdict('VERDICT: APPROVE\nQUALITY: 10.0/10')).toEqual({ verdict: 'APPROVE', quality: 10 });
  });

  it('gives null without both lines or with a score out of range', () => {
    expect(parseReviewVerdict('VERDICT: APPROVE')).toBeNull();
    expect(parseReviewVerdict('QUALITY: 11/10\nVERDICT: APPROVE')).toBeNull();
    expect(parseReviewVerdict(null)).toBeNull();
  });
});

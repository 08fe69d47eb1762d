import { Agent, MAX_FALLBACK_MODELS, WRITING_TOOLS } from './agent';
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

  describe('fallback models, max steps and the daily budget', () => {
    const invalid = (field: string) => expect.objectContaining({ code: AgentErrorCode.AGENT_INVALID, details: expect.objectContaining({ field }) });

    it('default to none, null (TURN_MAX_STEPS) and no budget', () => {
      const a = Agent.create(base);
      expect(a.binding.fallbackModels).toEqual([]);
      expect(a.binding.maxSteps).toBeNull();
      expect(a.budget).toBeNull();
    });

    it('keeps fallback models in the order given, and refuses a bad, repeated, primary or sixth one', () => {
      const a = Agent.create({ ...base, binding: { ...base.binding, fallbackModels: ['openai/gpt-5', 'anthropic/claude-haiku'] } });
      expect(a.binding.fallbackModels).toEqual(['openai/gpt-5', 'anthropic/claude-haiku']);
      const bad = (fallbackModels: unknown) => () => a.update({ binding: { fallbackModels: fallbackModels as string[] } });
      expect(bad(['gpt-5'])).toThrow(invalid('binding.fallbackModels[0]'));
      expect(bad(['openai/gpt-5', 'openai/gpt-5'])).toThrow(invalid('binding.fallbackModels[1]'));
      expect(bad(['openai/gpt-5', 'rehearsal/scripted'])).toThrow(invalid('binding.fallbackModels[1]'));
      expect(bad(Array.from({ length: MAX_FALLBACK_MODELS + 1 }, (_, i) => `p/m${i}`))).toThrow(invalid('binding.fallbackModels'));
      expect(bad([`p/${'x'.repeat(200)}`])).toThrow(invalid('binding.fallbackModels[0]'));
      expect(bad('openai/gpt-5')).toThrow(invalid('binding.fallbackModels'));
      // Making a fallback the primary model is refused too: the lists must stay apart.
      expect(() => a.update({ binding: { model: 'openai/gpt-5' } })).toThrow(invalid('binding.fallbackModels[0]'));
      expect(a.binding.fallbackModels).toEqual(['openai/gpt-5', 'anthropic/claude-haiku']);
      a.update({ binding: { model: 'openai/gpt-5', fallbackModels: ['rehearsal/scripted'] } });
      expect(a.binding).toMatchObject({ model: 'openai/gpt-5', fallbackModels: ['rehearsal/scripted'] });
      expect(Agent.create({ ...base, binding: { ...base.binding, fallbackModels: Array.from({ length: 5 }, (_, i) => `p/m${i}`) } }).binding.fallbackModels).toHaveLength(5);
    });

    it('takes max steps from 1 to 100000, or null for the default', () => {
      const a = Agent.create({ ...base, binding: { ...base.binding, maxSteps: 40 } });
      expect(a.binding.maxSteps).toBe(40);
      for (const maxSteps of [0, 100_001, 2.5, Number.NaN]) expect(() => a.update({ binding: { maxSteps } })).toThrow(invalid('binding.maxSteps'));
      a.update({ binding: { maxSteps: 100_000 } });
      expect(a.binding.maxSteps).toBe(100_000);
      a.update({ binding: { maxSteps: null } });
      expect(a.binding.maxSteps).toBeNull();
      a.update({ name: 'renamed' });
      expect(a.binding.maxSteps).toBeNull();
    });

    it('stores a budget normalised, refuses a bad one naming the field, keeps it on other changes, and clears it with null', () => {
      const a = Agent.create({ ...base, budget: { maxCostUsd: 10, maxTokens: undefined } });
      expect(a.budget).toEqual({ maxCostUsd: 10 });
      expect(() => a.update({ budget: { maxCostUsd: -1 } })).toThrow(invalid('budget.maxCostUsd'));
      expect(() => a.update({ budget: { maxCostUsd: -1 } })).toThrow(/^budget\.maxCostUsd must be a number above 0/);
      expect(() => a.update({ budget: { maxTokens: 1.5 } })).toThrow(invalid('budget.maxTokens'));
      expect(() => a.update({ budget: { tokens: 5 } as never })).toThrow(invalid('budget.tokens'));
      expect(() => a.update({ budget: 'lots' as never })).toThrow(invalid('budget'));
      expect(() => Agent.create({ ...base, budget: { maxMinutes: 0 } })).toThrow(invalid('budget.maxMinutes'));
      a.update({ maxConcurrentSessions: 4 });
      expect(a.budget).toEqual({ maxCostUsd: 10 });
      a.update({ budget: { maxTokens: 1000, maxMinutes: 60 } });
      expect(a.snapshot().budget).toEqual({ maxTokens: 1000, maxMinutes: 60 });
      (a.snapshot().budget as { maxTokens: number }).maxTokens = 1;
      expect(a.budget).toEqual({ maxTokens: 1000, maxMinutes: 60 });
      a.update({ budget: {} });
      expect(a.budget).toBeNull();
      a.update({ budget: { maxMinutes: 5 } });
      a.update({ budget: null });
      expect(a.budget).toBeNull();
    });
  });
});

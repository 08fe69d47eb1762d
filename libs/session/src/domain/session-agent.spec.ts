import { completeAssignment, SessionAgentAssignment, StoredSessionAgentAssignment, turnPolicyOf } from './session-agent';

const stored = (role: string, extra: Partial<SessionAgentAssignment> = {}): StoredSessionAgentAssignment => ({
  agentId: '00000000-0000-4000-a000-000000000003',
  agentName: 'agent',
  role,
  systemInstructions: '',
  disabledTools: [],
  routing: { requestedRole: null, skills: [], complexity: 5, score: null },
  reviewOf: null,
  ...extra,
});

describe('turnPolicyOf', () => {
  it('takes the snapshot of the assignment', () => {
    expect(turnPolicyOf(stored('IMPLEMENTER', { readOnly: true, permissions: { bash: 'deny' } }))).toEqual({
      readOnly: true,
      permissions: { bash: 'deny' },
    });
  });

  it('derives readOnly from the role of an assignment stored before it was recorded', () => {
    expect(turnPolicyOf(stored('REVIEWER'))).toEqual({ readOnly: true, permissions: {} });
    expect(turnPolicyOf(stored('ARCHITECT'))).toEqual({ readOnly: true, permissions: {} });
    expect(turnPolicyOf(stored('DEBUGGER'))).toEqual({ readOnly: false, permissions: {} });
  });

  it('lets a session without an orchestrator agent write, under the hard rules only', () => {
    expect(turnPolicyOf(null)).toEqual({ readOnly: false, permissions: {} });
  });
});

describe('completeAssignment', () => {
  it('keeps recorded values and fills missing ones', () => {
    expect(completeAssignment(stored('REVIEWER', { readOnly: false, permissions: { edit: 'ask' } }))).toMatchObject({ readOnly: false, permissions: { edit: 'ask' } });
    expect(completeAssignment(stored('REVIEWER'))).toMatchObject({ role: 'REVIEWER', readOnly: true, permissions: {} });
  });
});

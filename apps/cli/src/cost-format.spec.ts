import { explainStop, formatBudget, formatCapacity, formatOutcome, formatPlan, formatPlanBudget, formatPlanSpend, formatSession, makeStyle } from './format';
import { CapacityView, PlanView, SessionView } from './views';

const T0 = new Date(2025, 0, 31, 14, 3, 7).toISOString();
const T1 = new Date(2025, 0, 31, 14, 13, 7).toISOString(); // 10 minutes later

const session = (over: Partial<SessionView> = {}): SessionView => ({
  id: '11111111-1111-4111-8111-111111111111',
  title: 'demo',
  status: 'COMPLETED',
  attempt: 1,
  version: 4,
  agentId: null,
  agent: 'build',
  model: 'anthropic/claude-sonnet-4',
  result: null,
  usage: { inputTokens: 1000, outputTokens: 200, reasoningTokens: 0, cacheReadTokens: 300, cacheWriteTokens: 0, costUsd: 1.2 },
  error: null,
  queuedAt: T0,
  startedAt: T0,
  finishedAt: T1,
  createdAt: T0,
  ...over,
});

const plan = (over: Partial<PlanView> = {}): PlanView => ({
  id: 'p1',
  requirement: 'Add a health endpoint',
  workspace: '/repo',
  template: null,
  status: 'RUNNING',
  error: null,
  createdAt: T0,
  startedAt: T0,
  finishedAt: null,
  progress: { total: 2, byStatus: { COMPLETED: 1, PENDING: 1 }, percent: 50 },
  totals: { inputTokens: 10, outputTokens: 5, costUsd: 1.2 },
  criticalPath: [],
  tasks: [],
  ...over,
});

const line = (out: string, label: string) => out.split('\n').find((l) => l.startsWith(`${label} `));

describe('budgets', () => {
  it('formats a budget by its limits, "none" without one', () => {
    expect(formatBudget({ maxCostUsd: 5, maxTokens: 200000, maxMinutes: 30 })).toBe('$5.00, 200000 tokens, 30 min');
    expect(formatBudget({ maxMinutes: 2.5 })).toBe('2.5 min');
    expect([formatBudget(null), formatBudget(undefined), formatBudget({})]).toEqual(['none', 'none', 'none']);
  });
});

describe('a session: budget, the model that ran, why it stopped', () => {
  it('shows its budget with what it used of each limit', () => {
    const out = formatSession(session({ budget: { maxCostUsd: 5, maxTokens: 10000, maxMinutes: 30 } }), []);
    expect(line(out, 'budget')).toBe('budget     $5.00, 10000 tokens, 30 min (used $1.20 of $5.00, 1500 of 10000 tokens, 10 of 30 min)');
    expect(line(formatSession(session({ budget: null }), []), 'budget')).toBe('budget     none');
  });

  it('names the model that ran when it is not the one asked for (a fallback)', () => {
    expect(line(formatSession(session({ modelUsed: 'openai/gpt-5' }), []), 'model')).toBe('model      anthropic/claude-sonnet-4, ran openai/gpt-5 (fallback)');
    expect(line(formatSession(session({ model: null, modelUsed: 'openai/gpt-5' }), []), 'model')).toBe('model      default, ran openai/gpt-5');
    expect(line(formatSession(session({ modelUsed: 'anthropic/claude-sonnet-4' }), []), 'model')).toBe('model      anthropic/claude-sonnet-4');
    expect(line(formatSession(session({ modelUsed: null }), []), 'model')).toBe('model      anthropic/claude-sonnet-4');
  });

  it.each([
    ['BUDGET_EXCEEDED', 'a budget was reached'],
    ['STEP_LIMIT', 'too many model steps'],
    ['DOOM_LOOP', 'the same tool call over and over'],
    ['NO_PROGRESS', 'nothing happened for too long'],
    ['PROVIDER_QUOTA_EXHAUSTED', 'quota is exhausted'],
  ])('says plainly what %s means, in show and at the end of a run', (code, words) => {
    const failed = session({ status: 'FAILED', error: { code, message: 'stopped' } });
    expect(line(formatSession(failed, []), 'stopped')).toContain(words);
    expect(formatOutcome(failed)).toContain(words);
    expect(explainStop(code)).toContain(words);
  });

  it('adds nothing for other errors, nor for fields an older server does not send', () => {
    const failed = session({ status: 'FAILED', error: { code: 'PROVIDER_ERROR', message: 'boom' } });
    expect(formatSession(failed, [])).not.toMatch(/^stopped /m);
    expect(formatOutcome(failed).split('\n')).toHaveLength(2);
    const old = formatSession(session(), []);
    expect(old).not.toMatch(/^budget /m);
    expect(line(old, 'model')).toBe('model      anthropic/claude-sonnet-4');
  });
});

describe('a plan: budget, paused, spend', () => {
  const spend = { spent: { tokens: 12000, costUsd: 1.2, minutes: 12 }, forecast: { tokens: 40000, costUsd: 4.1, minutes: 50 }, remaining: { maxCostUsd: 3.8 } };

  it('shows "spent X of Y (Z left), forecast W" for the cost, and one line per other limit', () => {
    const out = formatPlan(plan({ budget: { maxCostUsd: 5, maxMinutes: 40 }, spend: { ...spend, remaining: { maxCostUsd: 3.8, maxMinutes: 28 } } }), new Map());
    expect(line(out, 'budget')).toBe('budget     $5.00, 40 min');
    expect(line(out, 'spend')).toBe('spend      spent $1.20 of $5.00 ($3.80 left), forecast $4.10');
    expect(out).toContain('\n           spent 12 min of 40 min (28 min left), forecast 50 min (over budget)');
  });

  it('without a budget: the cost spent and forecast', () => {
    const out = formatPlan(plan({ budget: null, spend: { ...spend, remaining: null } }), new Map());
    expect(line(out, 'budget')).toBe('budget     none');
    expect(line(out, 'spend')).toBe('spend      spent $1.20, forecast $4.10');
  });

  it('works the left amount out when the server does not say it, and marks what is used up', () => {
    expect(formatPlanSpend({ spent: { tokens: 9000, costUsd: 0, minutes: 0 } }, { maxTokens: 10000 })).toEqual(['spent 9000 tokens of 10000 tokens (1000 tokens left)']);
    const style = makeStyle(true);
    expect(formatPlanSpend({ spent: { tokens: 0, costUsd: 5, minutes: 0 }, remaining: { maxCostUsd: 0 } }, { maxCostUsd: 5 }, style)[0]).toContain(style.red('$0 left'));
  });

  it('says a plan is PAUSED at its budget and what to do', () => {
    const out = formatPlan(plan({ status: 'PAUSED', pausedReason: 'BUDGET', budget: { maxCostUsd: 1 } }), new Map());
    expect(line(out, 'status')).toBe('status     PAUSED (paused: its budget was reached; raise it (orchestrator plan-budget) and run it again)');
    expect(formatPlan(plan({ status: 'PAUSED' }), new Map(), makeStyle(true))).toContain(makeStyle(true).yellow('PAUSED'));
  });

  it('shows nothing of budgets for an older server', () => {
    const out = formatPlan(plan(), new Map());
    expect(out).not.toMatch(/^(budget|spend) /m);
    expect(line(out, 'status')).toBe('status     RUNNING');
  });

  it('answers plan-budget with the new budget and where the spend stands', () => {
    expect(formatPlanBudget(plan({ budget: { maxCostUsd: 10 }, spend: { ...spend, remaining: { maxCostUsd: 8.8 } } })).split('\n')).toEqual([
      'plan p1: budget $10.00',
      '  spent $1.20 of $10.00 ($8.80 left), forecast $4.10',
    ]);
    expect(formatPlanBudget(plan({ status: 'PAUSED', pausedReason: 'BUDGET', budget: null }))).toContain('run it again to resume (POST /api/v1/plans/p1/run)');
  });
});

describe('capacity', () => {
  it('shows each rule with its limits and use, and each model held back with until and why', () => {
    const until = new Date(2025, 0, 31, 15, 0, 0).toISOString();
    const status: CapacityView = {
      rules: [
        { pattern: 'anthropic/*', concurrency: { limit: 8, inUse: 3, holders: ['s1', 's2', 's3'], waiting: 2 }, rpm: { limit: 50, used: 12, resetInMs: 41000 } },
        { pattern: 'openai/gpt-5', tpm: { limit: 400000, used: 400000, resetInMs: 0 } },
      ],
      marks: [{ model: 'openai/gpt-5', kind: 'unavailable', until, why: 'quota exhausted' }],
    };
    expect(formatCapacity(status).split('\n')).toEqual([
      'provider limits',
      '  PATTERN       IN USE / LIMIT',
      '  anthropic/*   concurrency 3/8 (2 waiting); rpm 12/50 (resets in 41.0s)',
      '  openai/gpt-5  tpm 400000/400000',
      '',
      'models held back',
      '  MODEL         KIND         UNTIL                WHY',
      '  openai/gpt-5  unavailable  2025-01-31 15:00:00  quota exhausted',
    ]);
  });

  it('says when there is nothing, and shows fields and limits it does not know', () => {
    expect(formatCapacity({ rules: [], marks: [] })).toBe('provider limits\n  none (PROVIDER_LIMITS is not set: no limit on any model)\n\nmodels held back\n  none');
    expect(formatCapacity({})).toContain('none (PROVIDER_LIMITS is not set');
    const out = formatCapacity({
      rules: [{ pattern: '*', daily: { budget: 3 }, concurrency: { limit: 2, inUse: 2, holders: [], waiting: 0, queued: 4 } }],
      marks: [{ model: 'x/y', kind: 'cooldown', until: T1, why: '429', retries: 3 }],
      updatedAt: 'now',
    });
    expect(out).toContain('*        daily budget=3; concurrency 2/2 (queued=4)');
    expect(out).toContain('429; retries=3');
    expect(out).toMatch(/updatedAt {2}now$/);
  });
});

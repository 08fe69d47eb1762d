import { ZERO_USAGE } from '@app/shared';
import type { CodingTurnProgress } from './ports/coding-turns.port';
import type { CapacityAdmission, ProviderCapacityPort } from './ports/provider-capacity.port';
import type { RunSpendCheck, RunSpendingPort, RunSpendScopes } from './ports/run-spending.port';
import { TurnControl } from './turn-control';

const OK: RunSpendCheck = { exceeded: null, warnings: [] };
const scopes: RunSpendScopes = { sessionId: 's1', attempt: 1, sessionBudget: null, planId: null, agentId: null, keyId: null, agentName: null, role: null, model: 'p/m' };
const limits = { maxSteps: 100, doomLoopRepeats: 3, noProgressMs: 60_000 };

function usage(steps: number, tokens: number): CodingTurnProgress {
  const total = { ...ZERO_USAGE, inputTokens: tokens };
  return { kind: 'usage', detail: { step: total, total, steps } };
}

function setup(options: { checks?: RunSpendCheck[]; opening?: RunSpendCheck } = {}) {
  const checks = [...(options.checks ?? [])];
  const updates: number[] = [];
  const spending: RunSpendingPort = {
    openRun: async () => ({
      opening: options.opening ?? OK,
      update: async (total) => {
        updates.push(total.inputTokens);
        return checks.shift() ?? OK;
      },
    }),
  };
  const calls: string[] = [];
  const capacity: ProviderCapacityPort = {
    admit: async () => ({ admitted: true, permit: { sessionId: 's1', model: 'p/m', rules: [] } }) as CapacityAdmission,
    renew: async () => undefined,
    release: async () => undefined,
    recordStep: async (model, tokens) => void calls.push(`step ${model} ${tokens}`),
    rateLimited: async (model, retryAfterMs) => (calls.push(`429 ${model} ${retryAfterMs}`), 3_000),
    quotaExhausted: async (model) => (calls.push(`quota ${model}`), new Date(0)),
    usable: async (models) => models,
  };
  const aborted: string[] = [];
  const budgetEvents: string[] = [];
  const stops: string[] = [];
  const control = new TurnControl(
    { scopes, model: 'p/m', permit: null, limits, startedAt: new Date() },
    { spending, capacity, metrics: { fallback: () => undefined, runawayStop: (r) => stops.push(r) }, onBudget: (state, e) => budgetEvents.push(`${state} ${e.scope}`) },
    (reason) => aborted.push(reason),
  );
  return { control, updates, calls, aborted, budgetEvents, stops };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnControl', () => {
  it('refuses to start a run whose budget is already used up', async () => {
    const breach = { scope: 'AGENT', scopeId: 'a', limit: 'maxCostUsd', message: 'agent a daily budget maxCostUsd 1 USD reached' };
    const { control, budgetEvents } = setup({ opening: { exceeded: breach, warnings: [] } });
    expect(await control.open()).toEqual({ code: 'BUDGET_EXCEEDED', message: `${breach.message}; the run did not start` });
    expect(budgetEvents).toEqual(['exceeded AGENT']);
  });

  it('records each step, passes warnings on, and stops the turn at a breach with BUDGET_EXCEEDED', async () => {
    const warning = { scope: 'PLAN', scopeId: 'p', limit: 'maxTokens', ratio: 0.85, message: 'plan p at 85%' };
    const breach = { scope: 'SESSION', scopeId: 's1', limit: 'maxTokens', message: 'session s1 budget maxTokens 100 reached' };
    const { control, updates, calls, aborted, budgetEvents } = setup({ checks: [{ exceeded: null, warnings: [warning] }, { exceeded: breach, warnings: [] }] });
    expect(await control.open()).toBeNull();
    control.onProgress(usage(1, 60));
    await flush();
    control.onProgress(usage(2, 120));
    await flush();
    await flush();
    expect(updates).toEqual([60, 120]);
    expect(calls).toEqual(['step p/m 60', 'step p/m 120']);
    expect(budgetEvents).toEqual(['warning PLAN', 'exceeded SESSION']);
    expect(aborted).toEqual(['budget']);
    expect(control.stop).toEqual({ reason: 'budget', failure: { code: 'BUDGET_EXCEEDED', message: `${breach.message}; the turn was stopped` } });
    await control.finish({ ...ZERO_USAGE, inputTokens: 150 });
    expect(updates.at(-1)).toBe(150);
  });

  it('sends a turn rate-limited before its first step back to the queue for the cooldown the capacity gives', async () => {
    const { control, calls, aborted } = setup();
    await control.open();
    control.onProgress({ kind: 'activity', detail: { state: 'retry', retryAttempt: 1, message: 'Rate limit reached', trouble: 'rate-limit', retryAt: Date.now() + 2_000 } });
    await flush();
    expect(calls[0]).toMatch(/^429 p\/m (19\d\d|2000)$/);
    expect(aborted).toEqual(['throttled']);
    expect(control.stop).toMatchObject({ reason: 'throttled', waitMs: 3_000 });
    await control.finish(ZERO_USAGE);
  });

  it('leaves a turn already under way to OpenCode\'s own retry, the model still cooled down', async () => {
    const { control, calls, aborted } = setup();
    await control.open();
    control.onProgress(usage(1, 10));
    control.onProgress({ kind: 'activity', detail: { state: 'retry', trouble: 'rate-limit', message: '429' } });
    await flush();
    expect(calls).toContain('429 p/m undefined');
    expect(aborted).toEqual([]);
    await control.finish(ZERO_USAGE);
  });

  it('stops on an exhausted quota (or a Retry-After beyond an hour) and marks the model', async () => {
    for (const detail of [
      { state: 'retry' as const, trouble: 'quota' as const, message: 'insufficient_quota' },
      { state: 'retry' as const, trouble: 'rate-limit' as const, message: 'slow down', retryAt: Date.now() + 2 * 3600_000 },
    ]) {
      const { control, calls, aborted } = setup();
      await control.open();
      control.onProgress({ kind: 'activity', detail });
      await flush();
      expect(calls).toEqual(['quota p/m']);
      expect(aborted).toEqual(['quota']);
      expect(control.stop).toMatchObject({ reason: 'quota', failure: { code: 'PROVIDER_QUOTA_EXHAUSTED' } });
      await control.finish(ZERO_USAGE);
    }
  });

  it('stops a looping turn with DOOM_LOOP and counts the runaway stop once', async () => {
    const { control, aborted, stops } = setup();
    await control.open();
    for (const callId of ['a', 'b', 'c', 'd']) {
      control.onProgress({ kind: 'tool', detail: { messageId: 'm', partId: callId, callId, tool: 'bash', status: 'running', signature: 'same' } });
    }
    expect(aborted).toEqual(['runaway']);
    expect(stops).toEqual(['DOOM_LOOP']);
    expect(control.ranTools).toBe(true);
    await control.finish(ZERO_USAGE);
  });
});

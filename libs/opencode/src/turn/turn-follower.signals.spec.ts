import type { OpencodeSessionStatus } from '../client/opencode.types';
import { CHILD, DIR, MESSAGE, ScriptedOpencode, SESSION, until } from './testing/scripted-opencode';
import { TurnFollower, TurnRunnerTimings } from './turn-follower';
import type { TurnProgress } from './turn.types';

const ANSWER = 'msg_0000000000002AAAAAAAAAAAAAA';
const TIMINGS: TurnRunnerTimings = {
  reconcileIntervalMs: 20,
  unavailableAfterMs: 5_000,
  notStartedGraceMs: 50,
  abortSettleMs: 200,
  errorSettleMs: 20,
  textFlushMs: 10,
  maxProviderRetries: 2,
};
const QUOTA = 'You exceeded your current quota, please check your plan and billing details.';

function follow(fake: ScriptedOpencode) {
  const progress: TurnProgress[] = [];
  const run = new TurnFollower(
    fake.asClient(),
    { opencodeSessionId: SESSION, messageId: MESSAGE },
    { workspace: DIR, title: 't', prompt: 'p', agent: 'build' },
    { signal: new AbortController().signal, onProgress: (p) => progress.push(p) },
    TIMINGS,
  ).run();
  return { run, progress };
}

const retry = (attempt: number, message: string, next = 1_900_000_000_000): OpencodeSessionStatus => ({ type: 'retry', attempt, message, next });

describe('TurnFollower: provider limits and usage', () => {
  it('reports a turn aborted between two steps (the last asked for tools) as aborted, not completed', async () => {
    const fake = new ScriptedOpencode({ abort: 'clear-statuses' });
    const stop = new AbortController();
    const run = new TurnFollower(fake.asClient(), { opencodeSessionId: SESSION, messageId: MESSAGE }, { workspace: DIR, title: 't', prompt: 'p', agent: 'build' }, { signal: stop.signal }, TIMINGS).run();
    await until(() => fake.prompts > 0, 'the prompt');
    fake.status({ type: 'busy' });
    stop.abort('runaway');
    await until(() => fake.aborts > 0, 'the abort');
    fake.finish('tool-calls');
    expect((await run).status).toBe('aborted');
  });

  it('fails an exhausted quota at once (PROVIDER_QUOTA_EXHAUSTED), after a retry activity saying so', async () => {
    const fake = new ScriptedOpencode({ abort: 'clear-statuses' });
    const { run, progress } = follow(fake);
    await until(() => fake.prompts > 0, 'the prompt');
    fake.status({ type: 'busy' });
    fake.status(retry(1, QUOTA, 1_900_000_002_000));

    const outcome = await run;
    expect(outcome.status).toBe('failed');
    expect(outcome.error).toEqual({ code: 'PROVIDER_QUOTA_EXHAUSTED', message: expect.stringContaining(QUOTA) });
    expect(fake.aborts).toBe(1);
    expect(progress).toContainEqual({
      kind: 'activity',
      detail: { state: 'retry', retryAttempt: 1, message: QUOTA, trouble: 'quota', retryAt: 1_900_000_002_000 },
    });
  });

  it('reports rate-limit retries with their trouble, and past the limit fails PROVIDER_RATE_LIMITED', async () => {
    const fake = new ScriptedOpencode({ abort: 'clear-statuses' });
    const { run, progress } = follow(fake);
    await until(() => fake.prompts > 0, 'the prompt');
    fake.status({ type: 'busy' });
    for (const attempt of [1, 2, 3]) fake.status(retry(attempt, 'Rate limit reached for requests'));

    const outcome = await run;
    expect(outcome.error).toEqual({ code: 'PROVIDER_RATE_LIMITED', message: expect.stringContaining('Rate limit reached for requests') });
    const retries = progress.flatMap((p) => (p.kind === 'activity' && p.detail.state === 'retry' ? [p.detail] : []));
    expect(retries.map((r) => r.trouble)).toEqual(['rate-limit', 'rate-limit', 'rate-limit']);
  });

  it("counts the subagents' steps in the usage total, not their other progress", async () => {
    const fake = new ScriptedOpencode({ abort: 'clear-statuses' });
    const { run, progress } = follow(fake);
    await until(() => fake.prompts > 0, 'the prompt');
    const tokens = { input: 10, output: 2, reasoning: 0, cache: { read: 0, write: 0 } };
    const step = (sessionID: string, id: string, messageID: string) =>
      fake.emit('message.part.updated', { sessionID, part: { id, sessionID, messageID, type: 'step-finish', tokens, cost: 0.5 } });
    fake.status({ type: 'busy' });
    fake.emit('session.created', { info: { id: CHILD, parentID: SESSION } });
    step(SESSION, 'prt_1', ANSWER);
    step(CHILD, 'prt_c1', 'msg_child');
    fake.emit('message.part.updated', {
      sessionID: CHILD,
      part: { id: 'prt_ct', sessionID: CHILD, messageID: 'msg_child', type: 'tool', tool: 'bash', callID: 'x', state: { status: 'running', input: {} } },
    });
    step('ses_stranger', 'prt_s', 'msg_stranger');
    fake.messageList = [
      {
        info: { id: ANSWER, sessionID: SESSION, role: 'assistant', parentID: MESSAGE, modelID: 'scripted', providerID: 'rehearsal', cost: 0.5, tokens, time: { created: 1, completed: 2 } },
        parts: [],
      },
    ];
    fake.status({ type: 'idle' });

    const outcome = await run;
    expect(outcome.status).toBe('completed');
    const usage = progress.flatMap((p) => (p.kind === 'usage' ? [p.detail] : []));
    expect(usage.map((u) => [u.steps, u.total.inputTokens, u.total.costUsd])).toEqual([
      [1, 10, 0.5],
      [1, 20, 1],
    ]);
    expect(progress.some((p) => p.kind === 'tool')).toBe(false);
  });
});

import axios from 'axios';
import { makeTempWorkspace, testOpencodeClient } from '@app/testing';
import {
  newOpencodeMessageId,
  OpencodeTurnRunner,
  REHEARSAL_FALLBACK_MODEL,
  REHEARSAL_MODEL,
  RehearsalProvider,
  TurnPermissionRequest,
  TurnProgress,
  TurnRequest,
} from '@app/opencode';

/**
 * Provider limits and usage as OpenCode 1.18.33 shows them to the turn follower (shared server,
 * rehearsal provider): streamed usage per step, a rate limit OpenCode retries after the provider's
 * retry-after, an exhausted quota the follower fails at once, and the provider's own capacity cap.
 */
describe('Turn follower: provider limits and usage on a real OpenCode server', () => {
  const client = testOpencodeClient();
  const runner = new OpencodeTurnRunner(client, { reconcileIntervalMs: 1_000, abortSettleMs: 3_000 });

  async function runTurn(prompt: string, extra: Partial<TurnRequest> = {}) {
    const request: TurnRequest = { workspace: makeTempWorkspace(), title: 'provider limits', prompt: `${prompt}\n${newOpencodeMessageId()}`, agent: 'build', ...extra };
    const progress: Array<{ at: number; progress: TurnProgress }> = [];
    const asked: TurnPermissionRequest[] = [];
    const ref = await runner.openTurn(request);
    const startedAt = Date.now();
    const outcome = await runner.runTurn(ref, request, {
      signal: new AbortController().signal,
      onProgress: (p) => progress.push({ at: Date.now(), progress: p }),
      onPermission: async (permission) => (asked.push(permission), 'once'),
    });
    return { outcome, progress: progress.map((p) => p.progress), timed: progress, asked, elapsedMs: Date.now() - startedAt };
  }

  it('reports the usage of each step, the last total equal to the outcome', async () => {
    const { outcome, progress } = await runTurn('[[steps 3]]');
    expect(outcome).toMatchObject({ status: 'completed', summary: 'Ran 3 commands' });
    const usage = progress.flatMap((p) => (p.kind === 'usage' ? [p.detail] : []));
    // Three tool steps and the closing one.
    expect(usage.map((u) => u.steps)).toEqual([1, 2, 3, 4]);
    for (const u of usage) {
      expect(u.step.inputTokens).toBeGreaterThan(0);
      expect(u.step.outputTokens).toBeGreaterThan(0);
      expect(u.step.costUsd).toBeGreaterThan(0);
      expect(u.model).toBe(REHEARSAL_MODEL);
    }
    expect(usage.at(-1)!.total).toEqual(outcome.usage);
    const signatures = progress.flatMap((p) => (p.kind === 'tool' && p.detail.status === 'completed' ? [p.detail.signature] : []));
    expect(new Set(signatures).size).toBe(3);
  });

  it('repeats one identical call per step under [[loop 5]]: one signature, no doom_loop approval asked', async () => {
    const { outcome, progress, asked } = await runTurn('[[loop 5]]');
    expect(outcome).toMatchObject({ status: 'completed', summary: 'Ran 5 commands' });
    const signatures = progress.flatMap((p) => (p.kind === 'tool' && p.detail.status === 'completed' ? [p.detail.signature] : []));
    expect(signatures).toHaveLength(5);
    expect(new Set(signatures).size).toBe(1);
    expect(asked).toEqual([]);
  });

  it("shows a rate limit as a retry (trouble rate-limit, at the provider's retry-after), then completes", async () => {
    const { outcome, timed } = await runTurn('[[rate-limit 1]]');
    expect(outcome.status).toBe('completed');
    const retry = timed.find(({ progress: p }) => p.kind === 'activity' && p.detail.state === 'retry');
    expect(retry?.progress).toEqual({
      kind: 'activity',
      detail: { state: 'retry', retryAttempt: 1, message: 'Rate limit reached for requests', trouble: 'rate-limit', retryAt: expect.any(Number) },
    });
    const ahead = (retry!.progress.kind === 'activity' ? retry!.progress.detail.retryAt! : 0) - retry!.at;
    // retry-after: 1 honoured (OpenCode's own first delay would be 2 s).
    expect(ahead).toBeGreaterThan(0);
    expect(ahead).toBeLessThanOrEqual(1_500);
  });

  it('fails an exhausted quota at once with PROVIDER_QUOTA_EXHAUSTED; the fallback model completes', async () => {
    const scripted = await runTurn('[[quota scripted]]', { model: REHEARSAL_MODEL });
    expect(scripted.outcome).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_QUOTA_EXHAUSTED' } });
    expect(scripted.elapsedMs).toBeLessThan(8_000);
    expect(scripted.progress).toContainEqual({ kind: 'activity', detail: expect.objectContaining({ state: 'retry', trouble: 'quota' }) });

    const fallback = await runTurn('[[quota scripted]]', { model: REHEARSAL_FALLBACK_MODEL });
    expect(fallback.outcome.status).toBe('completed');
    expect(fallback.progress).toContainEqual({ kind: 'usage', detail: expect.objectContaining({ model: REHEARSAL_FALLBACK_MODEL }) });
  });
});

describe('RehearsalProvider: capacity cap (direct HTTP)', () => {
  const provider = new RehearsalProvider({ maxConcurrentRequests: 1 });
  let baseUrl = '';
  beforeAll(async () => ({ baseUrl } = await provider.start()));
  afterAll(() => provider.stop());

  const chat = (prompt: string, signal?: AbortSignal) =>
    fetch(`${baseUrl}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'scripted', stream: true, tools: [{ type: 'function', function: { name: 'bash' } }], messages: [{ role: 'user', content: prompt }] }),
      signal,
    });

  it('answers 429 with retry-after past maxConcurrentRequests, and counts it', async () => {
    const { data: models } = await axios.get<{ data: Array<{ id: string }> }>(`${baseUrl}/models`);
    expect(models.data.map((m) => m.id)).toEqual(['scripted', 'fallback', 'alt']);
    provider.resetStats();

    const slow = await chat('[[stall 2]] hold the slot');
    expect(slow.status).toBe(200);
    const refused = await chat('second');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toEqual({ error: { message: 'Rate limit reached for requests', type: 'rate_limit_error', code: 'rate_limit_exceeded' } });
    const stalled = await slow.text();
    expect(stalled).toContain('Rehearsal reply to: [[stall 2]] hold the slot');

    const { data: stats } = await axios.get(new URL('/__rehearsal/stats', baseUrl).toString());
    expect(stats).toEqual({ requests: 2, rateLimited: 1, maxInFlight: 1 });
    expect(provider.stats()).toEqual(stats);
  });

  it('frees the slot at once when the client of a stalled answer goes away', async () => {
    const controller = new AbortController();
    const stalled = await chat('[[stall 30]] never mind', controller.signal);
    expect(stalled.status).toBe(200);
    controller.abort();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const next = await chat('next');
    expect(next.status).toBe(200);
    await next.text();
  });
});

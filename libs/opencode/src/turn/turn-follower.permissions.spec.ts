import { join } from 'node:path';
import { OpencodeError } from '../client/opencode-error';
import type { OpencodePermissionReply } from '../client/opencode.types';
import { CHILD, DIR, MESSAGE, ScriptedOpencode, SESSION, until } from './testing/scripted-opencode';
import { permissionTitle, TurnFollower, TurnRunnerTimings } from './turn-follower';
import type { RunTurnOptions, TurnOutcome, TurnPermissionRequest, TurnPermissionWithdrawal } from './turn.types';

const TIMINGS: TurnRunnerTimings = {
  reconcileIntervalMs: 20,
  unavailableAfterMs: 5_000,
  notStartedGraceMs: 50,
  abortSettleMs: 200,
  errorSettleMs: 20,
  textFlushMs: 10,
  maxProviderRetries: 8,
};

function follower(fake: ScriptedOpencode, options: Partial<RunTurnOptions> = {}, resume = false) {
  const client = fake.asClient();
  const controller = new AbortController();
  const run = new TurnFollower(
    client,
    { opencodeSessionId: SESSION, messageId: MESSAGE },
    { workspace: DIR, title: 't', prompt: 'p', agent: 'build' },
    { signal: controller.signal, resume, ...options },
    TIMINGS,
  ).run();
  return { run, controller };
}

/** A handler the test answers by hand. */
function manualHandler() {
  const asked: Array<{ request: TurnPermissionRequest; signal: AbortSignal; answer: (reply: OpencodePermissionReply) => void }> = [];
  const onPermission = (request: TurnPermissionRequest, signal: AbortSignal) =>
    new Promise<OpencodePermissionReply>((resolve) => asked.push({ request, signal, answer: resolve }));
  return { asked, onPermission };
}

async function started(fake: ScriptedOpencode): Promise<void> {
  await until(() => fake.listener !== undefined && fake.prompts > 0, 'the prompt');
}

describe('TurnFollower: permission requests', () => {
  it('hands each request of its own session to onPermission once, and answers OpenCode with its reply', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    const { run } = follower(fake, { onPermission: handler.onPermission });
    await started(fake);
    fake.busy();
    const request = fake.ask('per_1');
    // Seen again by the stream and by the reconcile (GET /permission lists it while it waits).
    fake.emit('permission.asked', request as unknown as Record<string, unknown>);
    await until(() => handler.asked.length === 1, 'the handler');
    await new Promise((resolve) => setTimeout(resolve, 4 * TIMINGS.reconcileIntervalMs));
    expect(handler.asked).toHaveLength(1);
    expect(handler.asked[0].request).toEqual({
      requestId: 'per_1',
      opencodeSessionId: SESSION,
      permission: 'edit',
      patterns: ['tmp/ws/a.txt'],
      title: 'edit a.txt',
      metadata: { filepath: join(DIR, 'a.txt'), diff: `${'x'.repeat(2_000)}…` },
    });

    handler.asked[0].answer('always');
    await until(() => fake.replies.length === 1, 'the reply');
    expect(fake.replies).toEqual([{ requestId: 'per_1', reply: 'always' }]);
    fake.finish();
    await expect(run).resolves.toMatchObject({ status: 'completed' });
    expect(handler.asked[0].signal.aborted).toBe(false);
  });

  it('detached, leaves the turn running and its pending request unanswered, and resolves at once without reading the outcome', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    const detach = new AbortController();
    const { run } = follower(fake, { onPermission: handler.onPermission, detach: detach.signal });
    await started(fake);
    fake.busy();
    fake.ask('per_1');
    await until(() => handler.asked.length === 1, 'the handler');
    detach.abort();

    expect(await run).toEqual({ status: 'detached', summary: '', filesChanged: [], usage: expect.objectContaining({ inputTokens: 0 }) });
    expect(handler.asked[0].signal.aborted).toBe(true); // the decision is no longer wanted here
    await new Promise((resolve) => setTimeout(resolve, 4 * TIMINGS.reconcileIntervalMs));
    expect(fake.aborts).toBe(0);
    expect(fake.replies).toEqual([]);
  });

  it('detached before it starts, sends nothing', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const detach = new AbortController();
    detach.abort();
    const { run } = follower(fake, { detach: detach.signal });
    expect((await run).status).toBe('detached');
    expect(fake.prompts).toBe(0);
  });

  it('handles requests of its subagents (children learnt from session.created), not of other sessions', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    fake.parents = { ses_other: undefined };
    const { run } = follower(fake, { onPermission: handler.onPermission });
    await started(fake);
    fake.busy();
    fake.emit('session.created', { sessionID: CHILD, info: { id: CHILD, parentID: SESSION, title: 'sub', directory: DIR } });
    fake.ask('per_child', CHILD, { permission: 'bash', patterns: ['npm test'], metadata: { command: 'npm test' } });
    fake.ask('per_other', 'ses_other');
    await until(() => handler.asked.length === 1, 'the child request');
    await until(() => fake.sessionLookups.includes('ses_other'), 'the other session to be looked up');
    expect(handler.asked[0].request).toMatchObject({ requestId: 'per_child', opencodeSessionId: CHILD, title: 'bash npm test' });

    handler.asked[0].answer('once');
    await until(() => fake.replies.length === 1, 'the reply');
    fake.finish();
    await expect(run).resolves.toMatchObject({ status: 'completed' });
    expect(handler.asked.map((a) => a.request.requestId)).toEqual(['per_child']);
    expect(fake.replies).toEqual([{ requestId: 'per_child', reply: 'once' }]);
    // Looked up once, then known as another session's.
    expect(fake.sessionLookups.filter((id) => id === 'ses_other')).toHaveLength(1);
  });

  it('rejects at once without a handler, and when the handler throws', async () => {
    for (const onPermission of [undefined, () => Promise.reject(new Error('database down'))]) {
      const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
      const { run } = follower(fake, { onPermission });
      await started(fake);
      fake.busy();
      fake.ask('per_1');
      await until(() => fake.replies.length === 1, 'the reply');
      expect(fake.replies).toEqual([{ requestId: 'per_1', reply: 'reject' }]);
      fake.finish('tool-calls');
      const outcome = await run;
      expect(outcome).toMatchObject({ status: 'failed', error: { code: 'PERMISSION_DENIED', message: expect.stringContaining('edit a.txt') } });
    }
  });

  it('reports a refusal that stopped the turn as PERMISSION_DENIED, and a turn that went on as completed', async () => {
    const outcomes: TurnOutcome[] = [];
    for (const finish of ['tool-calls', 'stop'] as const) {
      const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
      const { run } = follower(fake, { onPermission: async () => 'reject' });
      await started(fake);
      fake.busy();
      fake.ask('per_1');
      await until(() => fake.replies.length === 1, 'the reply');
      fake.finish(finish);
      outcomes.push(await run);
    }
    expect(outcomes[0]).toMatchObject({ status: 'failed', error: { code: 'PERMISSION_DENIED' } });
    expect(outcomes[1]).toMatchObject({ status: 'completed' });
  });

  it('finds, on resume, a request asked while nobody followed, from a subagent it learns through its parents', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    fake.statuses = { [SESSION]: { type: 'busy' } };
    fake.messageList = [{ info: { id: MESSAGE, sessionID: SESSION, role: 'user', time: { created: 1 } }, parts: [] }];
    fake.parents = { ses_grandchild: CHILD, [CHILD]: SESSION };
    fake.pending = [
      { id: 'per_old', sessionID: 'ses_grandchild', permission: 'edit', patterns: ['b.txt'], metadata: {} },
    ];
    const { run } = follower(fake, { onPermission: handler.onPermission }, true);
    await until(() => handler.asked.length === 1, 'the pending request');
    expect(handler.asked[0].request).toMatchObject({ requestId: 'per_old', opencodeSessionId: 'ses_grandchild', title: 'edit b.txt' });
    expect(fake.prompts).toBe(0);
    handler.asked[0].answer('once');
    await until(() => fake.replies.length === 1, 'the reply');
    fake.finish();
    await expect(run).resolves.toMatchObject({ status: 'completed' });
  });

  it('does not call the turn lost or not started while a decision is awaited', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    const { run } = follower(fake, { onPermission: handler.onPermission });
    let settled = false;
    void run.then(() => (settled = true));
    await started(fake);
    // OpenCode shows no busy status and no answer yet, only the pending request.
    fake.ask('per_1');
    await until(() => handler.asked.length === 1, 'the handler');
    await new Promise((resolve) => setTimeout(resolve, 10 * TIMINGS.notStartedGraceMs));
    expect(settled).toBe(false);
    handler.asked[0].answer('once');
    await until(() => fake.replies.length === 1, 'the reply');
    fake.busy();
    fake.finish();
    await expect(run).resolves.toMatchObject({ status: 'completed' });
  });

  it('withdraws a request OpenCode settled by itself (an earlier always covered it) and sends no answer for it', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    const { run } = follower(fake, { onPermission: handler.onPermission });
    await started(fake);
    fake.busy();
    fake.ask('per_a');
    fake.ask('per_b', SESSION, { patterns: ['tmp/ws/b.txt'] });
    await until(() => handler.asked.length === 2, 'both requests');
    handler.asked[0].answer('always');
    await until(() => fake.replies.length === 1, 'the first reply');
    // OpenCode applies the always to the other pending request itself.
    fake.pending = [];
    fake.emit('permission.replied', { sessionID: SESSION, requestID: 'per_b', reply: 'always' });
    await until(() => handler.asked[1].signal.aborted, 'the withdrawal');
    expect(handler.asked[1].signal.reason).toEqual({ kind: 'settled', reply: 'always' } satisfies TurnPermissionWithdrawal);
    handler.asked[1].answer('reject');
    fake.finish();
    await expect(run).resolves.toMatchObject({ status: 'completed' });
    expect(fake.replies).toEqual([{ requestId: 'per_a', reply: 'always' }]);
  });

  it('withdraws an undecided request when the turn ends, and refuses it on OpenCode (which keeps it pending after an abort)', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    const handler = manualHandler();
    const { run, controller } = follower(fake, { onPermission: handler.onPermission });
    await started(fake);
    fake.busy();
    fake.ask('per_1');
    await until(() => handler.asked.length === 1, 'the handler');
    controller.abort('timeout');
    await expect(run).resolves.toMatchObject({ status: 'aborted' });
    expect(handler.asked[0].signal.reason).toEqual({ kind: 'turn-ended' } satisfies TurnPermissionWithdrawal);
    await until(() => fake.replies.length === 1, 'the refusal');
    expect(fake.replies).toEqual([{ requestId: 'per_1', reply: 'reject' }]);
  });

  it('sends an answer again when OpenCode still lists the request after a failed reply', async () => {
    const fake = new ScriptedOpencode({ abort: 'aborted-then-idle' });
    let failures = 1;
    const reply = fake.replyPermission.bind(fake);
    fake.replyPermission = async (...args) => {
      if (failures-- > 0) throw new OpencodeError('reply: socket hang up', 'UNREACHABLE');
      return reply(...args);
    };
    const { run } = follower(fake, { onPermission: async () => 'once' });
    await started(fake);
    fake.busy();
    fake.ask('per_1');
    await until(() => fake.replies.length === 1, 'the reply sent again by a reconcile');
    fake.finish();
    await expect(run).resolves.toMatchObject({ status: 'completed' });
  });
});

describe('permissionTitle', () => {
  it('names the permission and what it touches, workspace-relative when inside it', () => {
    expect(permissionTitle({ permission: 'edit', patterns: ['x'], metadata: { filepath: '/ws/src/a.ts' } }, '/ws')).toBe('edit src/a.ts');
    expect(permissionTitle({ permission: 'edit', patterns: ['x'], metadata: { filepath: '/elsewhere/a.ts' } }, '/ws')).toBe('edit /elsewhere/a.ts');
    expect(permissionTitle({ permission: 'bash', patterns: ['git status'], metadata: { command: 'git\n status' } }, '/ws')).toBe('bash git status');
    expect(permissionTitle({ permission: 'webfetch', patterns: ['https://x.test'], metadata: {} }, '/ws')).toBe('webfetch https://x.test');
    expect(permissionTitle({ permission: 'bash', patterns: [], metadata: { command: 'y'.repeat(400) } }, '/ws')).toHaveLength(300);
  });
});

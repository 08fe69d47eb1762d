import type { OpencodeEvent } from '../client/opencode.types';
import recorded from './fixtures/slow-write-turn.events.json';
import { summarizeToolInput, toolCallSignature, TurnProgressTracker } from './turn-progress';
import type { TurnProgress } from './turn.types';

/** A real turn (opencode 1.18.33): a write tool call, then an answer streamed in 9 deltas. */
const turn = recorded as { workspace: string; sessionId: string; userMessageId: string; events: OpencodeEvent[] };
const assistantMessage = 'msg_21a032fca001u46peWPKxmbjhO';
const textPart = 'prt_21a033113001XuIVqFI9v3DRBN';

function tracker(textFlushMs = 200) {
  const progress: TurnProgress[] = [];
  const t = new TurnProgressTracker({
    directory: turn.workspace,
    userMessageId: turn.userMessageId,
    textFlushMs,
    emit: (p) => progress.push(p),
  });
  return { t, progress };
}

const delta = (text: string, partID = textPart, messageID = assistantMessage): OpencodeEvent => ({
  type: 'message.part.delta',
  properties: { sessionID: turn.sessionId, messageID, partID, field: 'text', delta: text },
});
const partUpdated = (part: Record<string, unknown>): OpencodeEvent => ({
  type: 'message.part.updated',
  properties: { sessionID: turn.sessionId, part: { sessionID: turn.sessionId, messageID: assistantMessage, ...part } },
});
const texts = (progress: TurnProgress[]) => progress.flatMap((p) => (p.kind === 'text' ? [p.detail.delta] : []));

describe('TurnProgressTracker', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('maps a recorded turn to tool, files and text progress in stream order', () => {
    const { t, progress } = tracker();
    for (const event of turn.events) {
      if (event.type === 'message.part.delta') jest.advanceTimersByTime(250); // as streamed: ~250 ms apart
      t.onEvent(event);
    }
    t.close();

    const kinds = progress.map((p) => (p.kind === 'tool' ? `tool:${p.detail.status}` : p.kind));
    expect(kinds).toEqual(['tool:pending', 'tool:running', 'tool:completed', 'files', 'usage', ...Array(9).fill('text'), 'usage']);
    const usage = progress.flatMap((p) => (p.kind === 'usage' ? [p.detail] : []));
    const firstStep = { inputTokens: 2401, outputTokens: 14, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.007413 };
    const secondStep = { inputTokens: 2443, outputTokens: 3, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.007374 };
    expect(usage).toEqual([
      { step: firstStep, total: firstStep, steps: 1, model: 'rehearsal/scripted' },
      { step: secondStep, total: { ...firstStep, inputTokens: 4844, outputTokens: 17, costUsd: 0.014787 }, steps: 2, model: 'rehearsal/scripted' },
    ]);
    expect(progress.slice(0, 4)).toEqual([
      { kind: 'tool', detail: { messageId: 'msg_21a032d19001wmf5MLKG9XWtoG', partId: 'prt_21a032f5a001NTdSRLrTNFkS3D', callId: 'call_3_1', tool: 'write', status: 'pending' } },
      { kind: 'tool', detail: expect.objectContaining({ callId: 'call_3_1', status: 'running', input: 'a.txt', signature: expect.stringMatching(/^[0-9a-f]{16}$/) }) },
      { kind: 'tool', detail: expect.objectContaining({ callId: 'call_3_1', status: 'completed', input: 'a.txt', title: 'a.txt' }) },
      // The patch part and session.diff name the same file again: reported once.
      { kind: 'files', detail: { files: ['a.txt'], latest: ['a.txt'] } },
    ]);
    expect(texts(progress).join('')).toBe('tick 1/8 tick 2/8 tick 3/8 tick 4/8 tick 5/8 tick 6/8 tick 7/8 tick 8/8 Wrote a.txt');
    expect(progress.find((p) => p.kind === 'text')).toEqual({
      kind: 'text',
      detail: { messageId: assistantMessage, partId: textPart, delta: 'tick 1/8 ' },
    });
    // The user's prompt (a text part of the user message) is not progress.
    expect(texts(progress).some((s) => s.includes('[[slow'))).toBe(false);
  });

  it('coalesces a fast stream: at most one text progress per flush interval, nothing lost', () => {
    const { t, progress } = tracker(200);
    const at: number[] = [];
    const start = Date.now();
    const original = progress.push.bind(progress);
    progress.push = (...items) => (at.push(Date.now() - start), original(...items));
    for (let i = 0; i < 100; i++) {
      t.onEvent(delta(`${i} `));
      jest.advanceTimersByTime(10); // 100 deltas/s
    }
    t.close();

    expect(texts(progress).join('')).toBe(Array.from({ length: 100 }, (_, i) => `${i} `).join(''));
    expect(progress.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < at.length - 1; i++) expect(at[i] - at[i - 1]).toBeGreaterThanOrEqual(200);
  });

  it('holds text no longer than the flush interval', () => {
    const { t, progress } = tracker(200);
    t.onEvent(delta('Hello'));
    jest.advanceTimersByTime(199);
    expect(progress).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(texts(progress)).toEqual(['Hello']);
  });

  it('reports the text before a tool call that follows it', () => {
    const { t, progress } = tracker();
    t.onEvent(delta('Let me write it. '));
    t.onEvent(partUpdated({ id: 'prt_tool', type: 'tool', tool: 'bash', callID: 'call_1', state: { status: 'running', input: { command: 'npm   test\n -- --ci' } } }));
    expect(progress).toEqual([
      { kind: 'text', detail: expect.objectContaining({ delta: 'Let me write it. ' }) },
      { kind: 'tool', detail: expect.objectContaining({ tool: 'bash', status: 'running', input: 'npm test -- --ci' }) },
    ]);
  });

  it('sends what the deltas missed when a text part finishes (all of it, or the rest)', () => {
    const { t, progress } = tracker();
    t.onEvent(partUpdated({ id: 'prt_a', type: 'text', text: 'complete answer', time: { start: 1, end: 2 } }));
    t.onEvent(delta('par', 'prt_b'));
    t.onEvent(partUpdated({ id: 'prt_b', type: 'text', text: 'partly streamed', time: { start: 1, end: 2 } }));
    t.onEvent(delta('whole', 'prt_c'));
    t.onEvent(partUpdated({ id: 'prt_c', type: 'text', text: 'whole', time: { start: 1, end: 2 } }));
    expect(texts(progress)).toEqual(['complete answer', 'par', 'tly streamed', 'whole']);
  });

  it('ignores reasoning deltas, the user message and empty deltas', () => {
    const { t, progress } = tracker();
    t.onEvent(partUpdated({ id: 'prt_r', type: 'reasoning', text: '', time: { start: 1 } }));
    t.onEvent(delta('thinking…', 'prt_r'));
    t.onEvent(delta('the prompt', 'prt_u', turn.userMessageId));
    t.onEvent(delta(''));
    t.close();
    expect(progress).toEqual([]);
  });

  it('reports a failed tool call with its error, once per status', () => {
    const { t, progress } = tracker();
    const failing = { id: 'prt_e', type: 'tool', tool: 'edit', callID: 'call_9' };
    const input = { filePath: `${turn.workspace}/src/x.ts`, oldString: 'a', newString: 'b' };
    t.onEvent(partUpdated({ ...failing, state: { status: 'running', input } }));
    t.onEvent(partUpdated({ ...failing, state: { status: 'running', input, metadata: { more: 1 } } }));
    t.onEvent(partUpdated({ ...failing, state: { status: 'error', input, error: 'oldString not found' } }));
    expect(progress.map((p) => p.detail)).toEqual([
      expect.objectContaining({ status: 'running', input: 'src/x.ts' }),
      expect.objectContaining({ status: 'error', input: 'src/x.ts', error: 'oldString not found' }),
    ]);
  });

  it('reports files from patch parts and session.diff, relative and without repeats', () => {
    const { t, progress } = tracker();
    t.onEvent(partUpdated({ id: 'prt_p', type: 'patch', files: [`${turn.workspace}/b.txt`, `${turn.workspace}/a.txt`] }));
    t.onEvent({ type: 'session.diff', properties: { sessionID: turn.sessionId, diff: [{ file: 'a.txt', additions: 1, deletions: 0 }, { file: 'c/d.txt', additions: 1, deletions: 0 }] } });
    expect(progress).toEqual([
      { kind: 'files', detail: { files: ['a.txt', 'b.txt'], latest: ['a.txt', 'b.txt'] } },
      { kind: 'files', detail: { files: ['a.txt', 'b.txt', 'c/d.txt'], latest: ['c/d.txt'] } },
    ]);
  });

  it('reports activity changes once, and every retry', () => {
    const { t, progress } = tracker();
    t.activity('busy');
    t.activity('busy');
    t.activity('retry', { retryAttempt: 1, message: 'overloaded' });
    t.activity('retry', { retryAttempt: 2, message: 'overloaded' });
    t.activity('idle');
    expect(progress.map((p) => p.detail)).toEqual([
      { state: 'busy' },
      { state: 'retry', retryAttempt: 1, message: 'overloaded' },
      { state: 'retry', retryAttempt: 2, message: 'overloaded' },
      { state: 'idle' },
    ]);
  });

  it('reports nothing after close, and survives a throwing listener', () => {
    const t = new TurnProgressTracker({ directory: '/w', userMessageId: 'msg_u', textFlushMs: 200, emit: () => { throw new Error('listener bug'); } });
    expect(() => t.onEvent(partUpdated({ id: 'p', type: 'tool', tool: 'read', callID: 'c', state: { status: 'pending' } }))).not.toThrow();
    t.onEvent(delta('late'));
    t.close();
    const { t: closed, progress } = tracker();
    closed.close();
    closed.activity('idle');
    expect(progress).toEqual([]);
  });
});

describe('TurnProgressTracker: usage of each model step', () => {
  const stepFinish = (id: string, input: number, cost: number, sessionID = turn.sessionId, messageID = assistantMessage): OpencodeEvent => ({
    type: 'message.part.updated',
    properties: {
      sessionID,
      part: { id, sessionID, messageID, type: 'step-finish', tokens: { input, output: 10, reasoning: 2, cache: { read: 5, write: 1 } }, cost },
    },
  });
  const usageOf = (progress: TurnProgress[]) => progress.flatMap((p) => (p.kind === 'usage' ? [p.detail] : []));

  it("sums the turn's steps and its subagents' (each part once), counts the turn's own steps, names the model", () => {
    const { t, progress } = tracker();
    t.onEvent({ type: 'message.updated', properties: { info: { id: assistantMessage, role: 'assistant', providerID: 'rehearsal', modelID: 'alt' } } });
    t.onEvent(stepFinish('prt_1', 100, 0.1));
    t.onEvent(stepFinish('prt_1', 100, 0.1)); // the same part updated again: counted once
    t.onSubagentEvent({ type: 'message.updated', properties: { info: { id: 'msg_sub', role: 'assistant', providerID: 'rehearsal', modelID: 'fallback' } } });
    t.onSubagentEvent(stepFinish('prt_sub', 50, 0.2, 'ses_child', 'msg_sub'));
    t.onSubagentEvent(partUpdated({ id: 'prt_subtool', type: 'tool', tool: 'bash', callID: 'c', state: { status: 'running', input: {} } }));
    t.onEvent(stepFinish('prt_2', 1, 0.000000001, turn.sessionId, 'msg_unknown'));

    const usage = usageOf(progress);
    expect(usage).toHaveLength(3);
    expect(usage[0]).toEqual({
      step: { inputTokens: 100, outputTokens: 10, reasoningTokens: 2, cacheReadTokens: 5, cacheWriteTokens: 1, costUsd: 0.1 },
      total: { inputTokens: 100, outputTokens: 10, reasoningTokens: 2, cacheReadTokens: 5, cacheWriteTokens: 1, costUsd: 0.1 },
      steps: 1,
      model: 'rehearsal/alt',
    });
    expect(usage[1]).toMatchObject({ steps: 1, model: 'rehearsal/fallback', total: { inputTokens: 150, outputTokens: 20, costUsd: 0.3 } });
    expect(usage[2]).toEqual({
      step: expect.objectContaining({ inputTokens: 1 }),
      total: { inputTokens: 151, outputTokens: 30, reasoningTokens: 6, cacheReadTokens: 15, cacheWriteTokens: 3, costUsd: 0.300000001 },
      steps: 2,
    });
    // A subagent's tool calls are not the turn's progress.
    expect(progress.filter((p) => p.kind !== 'usage')).toEqual([]);
  });
});

describe('toolCallSignature', () => {
  it('is the same for identical calls, whatever the key order, and differs for any other input or tool', () => {
    const a = toolCallSignature('bash', { command: 'echo looping', description: 'Rehearsal loop', options: { a: 1, b: [1, { y: 2, x: 1 }] } });
    const b = toolCallSignature('bash', { options: { b: [1, { x: 1, y: 2 }], a: 1 }, description: 'Rehearsal loop', command: 'echo looping' });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(b).toBe(a);
    expect(toolCallSignature('bash', { command: 'echo looping', description: 'Rehearsal loop', options: { a: 1, b: [1, { y: 2, x: 2 }] } })).not.toBe(a);
    expect(toolCallSignature('bash', { command: 'echo step 1' })).not.toBe(toolCallSignature('bash', { command: 'echo step 2' }));
    expect(toolCallSignature('read', { command: 'echo step 1' })).not.toBe(toolCallSignature('bash', { command: 'echo step 1' }));
    expect(toolCallSignature('bash', { value: '1' })).not.toBe(toolCallSignature('bash', { value: 1 }));
  });

  it('is reported once the input is known, the same for repeated identical calls', () => {
    const { t, progress } = tracker();
    const input = { command: 'echo looping', description: 'Rehearsal loop' };
    for (const callID of ['c1', 'c2']) {
      t.onEvent(partUpdated({ id: `prt_${callID}`, type: 'tool', tool: 'bash', callID, state: { status: 'pending', input: {} } }));
      t.onEvent(partUpdated({ id: `prt_${callID}`, type: 'tool', tool: 'bash', callID, state: { status: 'running', input } }));
      t.onEvent(partUpdated({ id: `prt_${callID}`, type: 'tool', tool: 'bash', callID, state: { status: 'completed', input, output: 'looping' } }));
    }
    const tools = progress.flatMap((p) => (p.kind === 'tool' ? [p.detail] : []));
    expect(tools.filter((d) => d.status === 'pending').every((d) => d.signature === undefined)).toBe(true);
    const signatures = new Set(tools.filter((d) => d.status !== 'pending').map((d) => d.signature));
    expect([...signatures]).toEqual([toolCallSignature('bash', input)]);
  });
});

describe('summarizeToolInput', () => {
  it.each([
    [{ filePath: '/w/src/a.ts', content: 'secret file body' }, 'src/a.ts'],
    [{ filePath: 'rel/b.ts' }, 'rel/b.ts'],
    [{ pattern: 'TODO', path: '/w/src' }, 'TODO in src'],
    [{ command: 'ls\n  -la' }, 'ls -la'],
    [{ url: 'https://example.com', format: 'text' }, 'https://example.com'],
    [{ todos: [{ id: 1 }], content: 'x' }, '{"todos":[{"id":1}]}'],
    [{}, undefined],
    [undefined, undefined],
  ])('%j → %s', (input, expected) => {
    expect(summarizeToolInput(input as Record<string, unknown> | undefined, '/w')).toBe(expected);
  });

  it('keeps a summary to one short line', () => {
    expect(summarizeToolInput({ command: 'x'.repeat(500) }, '/w')).toHaveLength(200);
  });
});

import {
  ChatCompletionRequest,
  DEFAULT_FAIL_MESSAGE,
  parseRehearsalMarkers,
  LOOP_TOOL_ARGUMENTS,
  planRehearsalReply,
  QUOTA_ERROR,
  RATE_LIMIT_ERROR,
  rehearsalPromptKey,
  rehearsalUsage,
} from './rehearsal-script';

const SYSTEM = 'You are opencode.\n<env>\n  Working directory: /tmp/ws 1\n  Platform: linux\n</env>\nEXTRA';
const TOOLS = [{ type: 'function', function: { name: 'write' } }, { type: 'function', function: { name: 'bash' } }];

function turn(prompt: string, extra: ChatCompletionRequest = {}): ChatCompletionRequest {
  return {
    model: 'scripted',
    stream: true,
    tools: TOOLS,
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: prompt },
    ],
    ...extra,
  };
}

describe('parseRehearsalMarkers', () => {
  it('finds several write blocks with exact content', () => {
    const markers = parseRehearsalMarkers('go [[write a.txt]]hello\n[[/write]] and [[write  src/b c.ts ]]\n x [[/write]]');
    expect(markers.writes).toEqual([
      { path: 'a.txt', content: 'hello\n' },
      { path: 'src/b c.ts', content: '\n x ' },
    ]);
  });

  it('reads fail with and without a message, and does not confuse it with fail-retryable', () => {
    expect(parseRehearsalMarkers('[[fail]]').fail).toBe(DEFAULT_FAIL_MESSAGE);
    expect(parseRehearsalMarkers('x [[fail: boom now]] y').fail).toBe('boom now');
    const retryable = parseRehearsalMarkers('[[fail-retryable]]');
    expect(retryable.fail).toBeUndefined();
    expect(retryable.failRetryable).toBeDefined();
  });

  it('reads slow and expect-system', () => {
    const markers = parseRehearsalMarkers('[[slow 2.5]] [[expect-system Be brief]] [[expect-system other]]');
    expect(markers.slowSeconds).toBe(2.5);
    expect(markers.expectSystem).toEqual(['Be brief', 'other']);
  });

  it('finds nothing in a plain prompt', () => {
    expect(parseRehearsalMarkers('just do it')).toEqual({ writes: [], commands: [], subtasks: [], expectSystem: [] });
  });

  it('reads bash blocks, trimmed, skipping empty ones', () => {
    expect(parseRehearsalMarkers('[[bash]] echo hi > a.txt [[/bash]] x [[bash]]  [[/bash]][[bash]]ls\npwd[[/bash]]').commands).toEqual([
      'echo hi > a.txt',
      'ls\npwd',
    ]);
  });

  it("keeps a subtask's markers out of this turn's", () => {
    const markers = parseRehearsalMarkers('[[task]][[bash]]touch x[[/bash]][[write a]]A[[/write]][[/task]] [[bash]]ls[[/bash]]');
    expect(markers.subtasks).toEqual(['[[bash]]touch x[[/bash]][[write a]]A[[/write]]']);
    expect(markers.commands).toEqual(['ls']);
    expect(markers.writes).toEqual([]);
  });
});

describe('planRehearsalReply', () => {
  it('answers write blocks with write tool calls resolved against the working directory', () => {
    const reply = planRehearsalReply(turn('[[write dir/a.txt]]A[[/write]][[write /abs/b.txt]]B[[/write]]'), 'call_7');
    expect(reply).toEqual({
      kind: 'tool-calls',
      calls: [
        { id: 'call_7_1', name: 'write', arguments: JSON.stringify({ filePath: '/tmp/ws 1/dir/a.txt', content: 'A' }) },
        { id: 'call_7_2', name: 'write', arguments: JSON.stringify({ filePath: '/abs/b.txt', content: 'B' }) },
      ],
    });
  });

  it('answers bash blocks with bash tool calls after the writes, in one step', () => {
    const reply = planRehearsalReply(turn('[[bash]]touch /outside/x[[/bash]][[write a.txt]]A[[/write]]'), 'c');
    expect(reply).toEqual({
      kind: 'tool-calls',
      calls: [
        { id: 'c_1', name: 'write', arguments: JSON.stringify({ filePath: '/tmp/ws 1/a.txt', content: 'A' }) },
        { id: 'c_2', name: 'bash', arguments: JSON.stringify({ command: 'touch /outside/x', description: 'Rehearsal command 1' }) },
      ],
    });
  });

  it('answers task blocks with task tool calls to the general subagent', () => {
    const reply = planRehearsalReply(turn('[[task]][[bash]]ls[[/bash]][[/task]]', { tools: [...TOOLS, { function: { name: 'task' } }] }), 'c');
    expect(reply).toEqual({
      kind: 'tool-calls',
      calls: [
        {
          id: 'c_1',
          name: 'task',
          arguments: JSON.stringify({ description: 'Rehearsal subtask 1', prompt: '[[bash]]ls[[/bash]]', subagent_type: 'general' }),
        },
      ],
    });
  });

  it('says which tool the turn does not offer instead of calling it', () => {
    expect(planRehearsalReply(turn('[[bash]]ls[[/bash]]', { tools: [{ function: { name: 'read' } }] }))).toEqual({
      kind: 'text',
      text: 'The bash tool is not available in this turn.',
    });
    expect(planRehearsalReply(turn('[[task]]x[[/task]]'))).toEqual({ kind: 'text', text: 'The task tool is not available in this turn.' });
  });

  it('counts the commands and subtasks of the tool round in the closing answer', () => {
    const request = turn('[[write a.txt]]A[[/write]][[bash]]ls[[/bash]][[bash]]pwd[[/bash]]');
    request.messages!.push(
      {
        role: 'assistant',
        tool_calls: [
          { id: 'c1', function: { name: 'write', arguments: '{"filePath":"/tmp/ws 1/a.txt","content":"A"}' } },
          { id: 'c2', function: { name: 'bash', arguments: '{"command":"ls"}' } },
          { id: 'c3', function: { name: 'bash', arguments: '{"command":"pwd"}' } },
          { id: 'c4', function: { name: 'task', arguments: '{"prompt":"x"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    );
    expect(planRehearsalReply(request)).toEqual({ kind: 'text', text: 'Wrote a.txt\nRan 2 commands\nDelegated 1 subtask' });
  });

  it('sums up the calls OpenCode refused apart from those it ran', () => {
    const request = turn('[[write /etc/x]]A[[/write]][[write a.txt]]B[[/write]][[bash]]touch /etc/y[[/bash]]');
    const denied = 'The user has specified a rule which prevents you from using this specific tool call. Here are some of the relevant rules [...]';
    request.messages!.push(
      {
        role: 'assistant',
        tool_calls: [
          { id: 'c1', function: { name: 'write', arguments: '{"filePath":"/etc/x","content":"A"}' } },
          { id: 'c2', function: { name: 'write', arguments: '{"filePath":"/tmp/ws 1/a.txt","content":"B"}' } },
          { id: 'c3', function: { name: 'bash', arguments: '{"command":"touch /etc/y"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: denied },
      { role: 'tool', tool_call_id: 'c2', content: 'Wrote file successfully.' },
      { role: 'tool', tool_call_id: 'c3', content: denied },
    );
    expect(planRehearsalReply(request)).toEqual({ kind: 'text', text: 'Wrote a.txt\nRefused: write, bash' });
  });

  it('answers the tool results with the written paths', () => {
    const request = turn('[[write dir/a.txt]]A[[/write]]');
    request.messages!.push(
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'c1', function: { name: 'write', arguments: '{"filePath":"/tmp/ws 1/dir/a.txt","content":"A"}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'Wrote file successfully.' },
    );
    expect(planRehearsalReply(request)).toEqual({ kind: 'text', text: 'Wrote dir/a.txt' });
  });

  it('writes at once and slows the closing answer when slow and write go together', () => {
    const request = turn('[[slow 4]][[write a.txt]]A[[/write]]');
    expect(planRehearsalReply(request)).toMatchObject({ kind: 'tool-calls' });
    request.messages!.push(
      { role: 'assistant', content: '', tool_calls: [{ id: 'c1', function: { name: 'write', arguments: '{"filePath":"/tmp/ws 1/a.txt","content":"A"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'Wrote file successfully.' },
    );
    expect(planRehearsalReply(request)).toEqual({ kind: 'text', text: 'Wrote a.txt', slowSeconds: 4 });
  });

  it('fails with 400 or 500', () => {
    expect(planRehearsalReply(turn('[[fail: boom]]'))).toEqual({ kind: 'error', status: 400, message: 'boom' });
    expect(planRehearsalReply(turn('[[fail-retryable]]'))).toMatchObject({ kind: 'error', status: 500 });
  });

  it('checks expected system text', () => {
    expect(planRehearsalReply(turn('[[expect-system EXTRA]] hi'))).toMatchObject({ kind: 'text' });
    expect(planRehearsalReply(turn('[[expect-system MISSING]] hi'))).toEqual({
      kind: 'error',
      status: 400,
      message: 'expected system text not found: MISSING',
    });
  });

  it('echoes the first line and carries slow', () => {
    expect(planRehearsalReply(turn('\nfirst line\nsecond'))).toEqual({ kind: 'text', text: 'Rehearsal reply to: first line' });
    expect(planRehearsalReply(turn('[[slow 3]] wait'))).toMatchObject({ kind: 'text', slowSeconds: 3 });
  });

  it('answers exactly the [[reply]] text, also as the closing answer after writes', () => {
    const verdict = 'VERDICT: APPROVE\nQUALITY: 8/10\n- tidy';
    expect(planRehearsalReply(turn(`review this [[reply]]${verdict}[[/reply]]`))).toEqual({ kind: 'text', text: verdict });
    const afterWrite = turn(`[[write a.txt]]x[[/write]][[reply]]done: ok[[/reply]]`);
    afterWrite.messages!.push(
      { role: 'assistant', tool_calls: [{ id: 'c1', function: { name: 'write', arguments: '{"filePath":"/tmp/ws 1/a.txt"}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'ok' },
    );
    expect(planRehearsalReply(afterWrite)).toMatchObject({ kind: 'text', text: 'done: ok' });
  });

  it('reads user content given as parts', () => {
    const request = turn('');
    request.messages![1].content = [{ type: 'text', text: '[[fail: ' }, { type: 'text', text: 'parts]]' }];
    expect(planRehearsalReply(request)).toMatchObject({ kind: 'error', message: 'parts' });
  });

  it('answers side requests (no tools offered, e.g. title generation) with short text, ignoring markers', () => {
    expect(planRehearsalReply(turn('[[fail]]', { tools: undefined }))).toEqual({ kind: 'text', text: 'Rehearsal session' });
    expect(planRehearsalReply({ messages: [{ role: 'system', content: 'x' }] })).toMatchObject({ kind: 'text' });
  });

  it('does not call a write tool the turn switched off', () => {
    const reply = planRehearsalReply(turn('[[write a]]x[[/write]]', { tools: [{ function: { name: 'bash' } }] }));
    expect(reply).toMatchObject({ kind: 'text' });
  });
});

/** The request after `results` tool rounds of one call each (as OpenCode sends them: every step's call and result). */
function afterToolRounds(prompt: string, results: number, extra: ChatCompletionRequest = {}): ChatCompletionRequest {
  const request = turn(prompt, extra);
  for (let i = 1; i <= results; i++) {
    request.messages!.push(
      { role: 'assistant', tool_calls: [{ id: `c${i}`, function: { name: 'bash', arguments: JSON.stringify(LOOP_TOOL_ARGUMENTS) } }] },
      { role: 'tool', tool_call_id: `c${i}`, content: 'looping' },
    );
  }
  return request;
}

describe('planRehearsalReply: capacity and runaway markers', () => {
  it('reads rate-limit, quota, loop, steps and stall', () => {
    expect(parseRehearsalMarkers('[[rate-limit 3]] [[quota scripted]] [[loop 1000]] [[steps 4]] [[stall 2.5]]')).toMatchObject({
      rateLimitSeconds: 3,
      quotaModel: 'scripted',
      loop: 1000,
      steps: 4,
      stallSeconds: 2.5,
    });
  });

  it('[[rate-limit N]]: 429 with retry-after N for the first request of the prompt, normal answers after it', () => {
    expect(planRehearsalReply(turn('[[rate-limit 2]] hi'))).toEqual({ kind: 'error', status: 429, ...RATE_LIMIT_ERROR, retryAfterSeconds: 2 });
    expect(RATE_LIMIT_ERROR).toEqual({ message: 'Rate limit reached for requests', type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect(planRehearsalReply(turn('[[rate-limit 2]] hi'), 'call', { seenBefore: true })).toEqual({
      kind: 'text',
      text: 'Rehearsal reply to: [[rate-limit 2]] hi',
    });
  });

  it('keys a prompt by its text and model; side requests have no key', () => {
    const key = rehearsalPromptKey(turn('[[rate-limit 1]] a'));
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(rehearsalPromptKey(turn('[[rate-limit 1]] a'))).toBe(key);
    // The tool rounds of the turn keep the key: they are not "first" requests.
    expect(rehearsalPromptKey(afterToolRounds('[[rate-limit 1]] a', 2))).toBe(key);
    expect(rehearsalPromptKey(turn('[[rate-limit 1]] b'))).not.toBe(key);
    expect(rehearsalPromptKey(turn('[[rate-limit 1]] a', { model: 'fallback' }))).not.toBe(key);
    expect(rehearsalPromptKey(turn('[[rate-limit 1]] a', { tools: [] }))).toBeUndefined();
  });

  it('[[quota MODEL]]: 429 insufficient_quota (no retry-after) for that model only, at every request', () => {
    expect(planRehearsalReply(turn('[[quota scripted]] hi'))).toEqual({ kind: 'error', status: 429, ...QUOTA_ERROR });
    expect(QUOTA_ERROR).toEqual({
      message: 'You exceeded your current quota, please check your plan and billing details.',
      type: 'insufficient_quota',
      code: 'insufficient_quota',
    });
    expect(planRehearsalReply(afterToolRounds('[[quota scripted]] [[steps 2]]', 1))).toMatchObject({ kind: 'error', status: 429 });
    expect(planRehearsalReply(turn('[[quota scripted]] hi', { model: 'fallback' }))).toEqual({
      kind: 'text',
      text: 'Rehearsal reply to: [[quota scripted]] hi',
    });
  });

  it('[[loop N]]: the same bash call while fewer than N tool results follow the prompt, then the closing text', () => {
    const call = (reply: ReturnType<typeof planRehearsalReply>) => (reply.kind === 'tool-calls' ? reply.calls : []);
    const first = call(planRehearsalReply(afterToolRounds('[[loop 3]]', 0), 'call_1'));
    const third = call(planRehearsalReply(afterToolRounds('[[loop 3]]', 2), 'call_3'));
    expect(first).toEqual([{ id: 'call_1_1', name: 'bash', arguments: '{"command":"echo looping","description":"Rehearsal loop"}' }]);
    expect(third).toEqual([{ ...first[0], id: 'call_3_1' }]);
    expect(planRehearsalReply(afterToolRounds('[[loop 3]]', 3))).toEqual({ kind: 'text', text: 'Ran 3 commands' });
    expect(planRehearsalReply(afterToolRounds('[[loop 1000]]', 999))).toMatchObject({ kind: 'tool-calls' });
  });

  it('[[steps N]]: one distinct bash call per step, then the closing text', () => {
    const commands = [0, 1, 2].map((done) => {
      const reply = planRehearsalReply(afterToolRounds('[[steps 3]]', done));
      return reply.kind === 'tool-calls' ? reply.calls.map((c) => JSON.parse(c.arguments).command) : reply;
    });
    expect(commands).toEqual([['echo step 1'], ['echo step 2'], ['echo step 3']]);
    expect(planRehearsalReply(afterToolRounds('[[steps 3]]', 3))).toEqual({ kind: 'text', text: 'Ran 3 commands' });
  });

  it('[[loop N]] and [[steps N]] do not call bash when the turn does not offer it', () => {
    const noBash = { tools: [{ function: { name: 'read' } }] };
    for (const prompt of ['[[loop 3]]', '[[steps 3]]']) {
      expect(planRehearsalReply(turn(prompt, noBash))).toEqual({ kind: 'text', text: 'The bash tool is not available in this turn.' });
    }
  });

  it('[[stall N]]: the answer, also the closing one, carries the stall', () => {
    expect(planRehearsalReply(turn('[[stall 3]] wait'))).toEqual({ kind: 'text', text: 'Rehearsal reply to: [[stall 3]] wait', stallSeconds: 3 });
    expect(planRehearsalReply(afterToolRounds('[[stall 3]] [[steps 1]]', 1))).toEqual({ kind: 'text', text: 'Ran 1 command', stallSeconds: 3 });
  });
});

describe('rehearsalUsage', () => {
  it('is deterministic and non-zero', () => {
    const usage = rehearsalUsage(turn('hello'), 'abc');
    expect(usage).toEqual(rehearsalUsage(turn('hello'), 'abc'));
    expect(usage.prompt_tokens).toBe(Math.ceil((SYSTEM.length + 'hello'.length) / 4));
    expect(usage.completion_tokens).toBe(1);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });
});

import {
  ChatCompletionRequest,
  DEFAULT_FAIL_MESSAGE,
  parseRehearsalMarkers,
  planRehearsalReply,
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

describe('rehearsalUsage', () => {
  it('is deterministic and non-zero', () => {
    const usage = rehearsalUsage(turn('hello'), 'abc');
    expect(usage).toEqual(rehearsalUsage(turn('hello'), 'abc'));
    expect(usage.prompt_tokens).toBe(Math.ceil((SYSTEM.length + 'hello'.length) / 4));
    expect(usage.completion_tokens).toBe(1);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });
});

import type { OpencodeAssistantMessageInfo, OpencodeMessage, OpencodePart } from '../client/opencode.types';
import { parseModel } from './turn-follower';
import {
  answersTo,
  classifyError,
  classifyProviderTrouble,
  retryAfterMsOf,
  errorOf,
  filesFromParts,
  finalTextOf,
  hasUserMessage,
  lastStepFinished,
  usageOf,
} from './turn-messages';

const USER = 'msg_000000000001aaaaaaaaaaaaaa';
let partCounter = 0;

function answer(id: string, info: Partial<OpencodeAssistantMessageInfo>, parts: Array<Partial<OpencodePart>> = []): OpencodeMessage {
  return {
    info: {
      id,
      sessionID: 'ses_1',
      role: 'assistant',
      parentID: USER,
      modelID: 'm',
      providerID: 'p',
      cost: 0,
      tokens: { input: 0, output: 0, reasoning: 0, cache: { read: 0, write: 0 } },
      time: { created: 1 },
      ...info,
    },
    parts: parts.map((p) => ({ id: `prt_${++partCounter}`, sessionID: 'ses_1', messageID: id, type: 'text', ...p })),
  };
}

const user: OpencodeMessage = {
  info: { id: USER, sessionID: 'ses_1', role: 'user', time: { created: 0 } },
  parts: [{ id: 'prt_u', sessionID: 'ses_1', messageID: USER, type: 'text', text: 'prompt' }],
};

describe('turn messages', () => {
  const step1 = answer(
    'msg_000000000002bbbbbbbbbbbbbb',
    { cost: 0.1, tokens: { input: 100, output: 10, reasoning: 5, cache: { read: 50, write: 7 } }, time: { created: 2, completed: 3 } },
    [
      { type: 'tool', tool: 'write', state: { status: 'completed', input: { filePath: '/ws/src/a.ts' } } },
      { type: 'tool', tool: 'edit', state: { status: 'error', input: { filePath: '/ws/failed.ts' } } },
      { type: 'patch', files: ['/ws/src/a.ts', '/ws/b.md'] },
      { type: 'text', text: 'working on it' },
    ],
  );
  const step2 = answer(
    'msg_000000000003cccccccccccccc',
    { cost: 0.2, tokens: { input: 200, output: 20, reasoning: 0, cache: { read: 0, write: 0 } }, time: { created: 4, completed: 5 } },
    [
      { type: 'text', text: 'Done.' },
      { type: 'text', text: 'reminder', synthetic: true },
      { type: 'text', text: ' All good. ' },
    ],
  );
  const otherTurn = answer('msg_000000000004dddddddddddddd', { parentID: 'msg_other', cost: 5 });
  const messages = [step2, user, otherTurn, step1];

  it('finds the answers of one turn, in order', () => {
    expect(answersTo(messages, USER).map((a) => a.info.id)).toEqual([step1.info.id, step2.info.id]);
    expect(hasUserMessage(messages, USER)).toBe(true);
    expect(hasUserMessage(messages, 'msg_missing')).toBe(false);
  });

  it('sums usage over every step of the turn only', () => {
    expect(usageOf(answersTo(messages, USER))).toEqual({
      inputTokens: 300,
      outputTokens: 30,
      reasoningTokens: 5,
      cacheReadTokens: 50,
      cacheWriteTokens: 7,
      costUsd: 0.3,
    });
  });

  it('takes the final text from the last step that said something, without synthetic parts', () => {
    expect(finalTextOf(answersTo(messages, USER))).toBe('Done.\nAll good.');
    expect(finalTextOf([answersTo(messages, USER)[0], answer('msg_x', {}, [{ type: 'tool' }]) as never])).toBe('working on it');
    expect(finalTextOf([])).toBe('');
  });

  it('lists written files relative to the workspace, from patches and completed write tools', () => {
    expect(filesFromParts(answersTo(messages, USER), '/ws')).toEqual(['b.md', 'src/a.ts']);
  });

  it('knows whether the last step finished', () => {
    expect(lastStepFinished(answersTo(messages, USER))).toBe(true);
    expect(lastStepFinished([answer('msg_y', { time: { created: 1 } }) as never])).toBe(false);
    expect(lastStepFinished([answer('msg_y', { error: { name: 'APIError' } }) as never])).toBe(true);
    expect(lastStepFinished([])).toBe(false);
  });

  it('finds the error of the turn', () => {
    const failed = answer('msg_z', { error: { name: 'APIError', data: { message: 'boom', statusCode: 400 } } });
    expect(errorOf([...answersTo(messages, USER), failed as never])).toEqual({ name: 'APIError', data: { message: 'boom', statusCode: 400 } });
    expect(errorOf(answersTo(messages, USER))).toBeUndefined();
  });
});

describe('classifyError', () => {
  it('maps provider errors to PROVIDER_ERROR with their message', () => {
    expect(classifyError({ name: 'APIError', data: { message: 'boom' } })).toEqual({ code: 'PROVIDER_ERROR', message: 'boom' });
    expect(classifyError({ name: 'ProviderAuthError', data: { message: 'bad key' } })).toEqual({ code: 'PROVIDER_ERROR', message: 'bad key' });
  });

  it('maps anything else to OPENCODE_ERROR', () => {
    expect(classifyError({ name: 'UnknownError', data: { message: 'Agent not found: "x"' } })).toEqual({
      code: 'OPENCODE_ERROR',
      message: 'UnknownError: Agent not found: "x"',
    });
    expect(classifyError({ name: 'MessageOutputLengthError' })).toEqual({ code: 'OPENCODE_ERROR', message: 'MessageOutputLengthError' });
    expect(classifyError({ name: 'MessageAbortedError', data: { message: 'Aborted' } }).message).toContain('aborted on the OpenCode server');
  });
});

describe('parseModel', () => {
  it('splits at the first slash', () => {
    expect(parseModel('anthropic/claude-sonnet-4')).toEqual({ providerID: 'anthropic', modelID: 'claude-sonnet-4' });
    expect(parseModel('openrouter/anthropic/claude')).toEqual({ providerID: 'openrouter', modelID: 'anthropic/claude' });
    expect(parseModel(undefined)).toBeUndefined();
    expect(() => parseModel('nomodel')).toThrow('provider/model');
  });
});

describe('classifyProviderTrouble', () => {
  it.each([
    // What OpenCode 1.18.33 puts in the retry status for the rehearsal provider's 429s (the provider's message only).
    ['Rate limit reached for requests', undefined, 'rate-limit'],
    ['You exceeded your current quota, please check your plan and billing details.', undefined, 'quota'],
    ['You exceeded your current quota, please check your plan and billing details.', 429, 'quota'],
    ['insufficient_quota', undefined, 'quota'],
    ['Your credit balance is too low to access the Anthropic API.', 400, 'quota'],
    ['Billing hard limit has been reached', undefined, 'quota'],
    ['Too Many Requests', undefined, 'rate-limit'],
    ['rate_limit_exceeded', undefined, 'rate-limit'],
    ['slow down', 429, 'rate-limit'],
    ['Overloaded', undefined, 'overloaded'],
    ['upstream error', 529, 'overloaded'],
    ['Service Unavailable', 503, 'overloaded'],
    ['The model is at capacity', undefined, 'overloaded'],
    ['rehearsal provider temporary failure', 500, 'error'],
    ['', undefined, 'error'],
  ])('%j (status %s) → %s', (message, statusCode, trouble) => {
    expect(classifyProviderTrouble(message, statusCode)).toBe(trouble);
  });
});

describe('classifyError: provider limits', () => {
  it('maps an exhausted quota to PROVIDER_QUOTA_EXHAUSTED and a rate limit to PROVIDER_RATE_LIMITED', () => {
    const quota = 'You exceeded your current quota, please check your plan and billing details.';
    expect(classifyError({ name: 'APIError', data: { message: quota, statusCode: 429 } })).toEqual({ code: 'PROVIDER_QUOTA_EXHAUSTED', message: quota });
    expect(classifyError({ name: 'APIError', data: { message: 'slow down', statusCode: 429 } })).toEqual({ code: 'PROVIDER_RATE_LIMITED', message: 'slow down' });
    expect(classifyError({ name: 'APIError', data: { message: 'boom', statusCode: 500 } })).toEqual({ code: 'PROVIDER_ERROR', message: 'boom' });
    // Not a provider's error: not the provider's limits either.
    expect(classifyError({ name: 'UnknownError', data: { message: 'quota' } }).code).toBe('OPENCODE_ERROR');
  });

  it("puts the provider's retry-after in the message", () => {
    const error = { name: 'APIError', data: { message: 'Rate limit reached for requests', statusCode: 429, responseHeaders: { 'Retry-After': '7' } } };
    expect(classifyError(error)).toEqual({ code: 'PROVIDER_RATE_LIMITED', message: 'Rate limit reached for requests (retry after 7000 ms)' });
  });

  it('reads retry-after-ms, retry-after in seconds or as a date, and ignores anything else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMsOf({ 'retry-after-ms': '1500', 'retry-after': '9' }, now)).toBe(1500);
    expect(retryAfterMsOf({ 'retry-after': '2' }, now)).toBe(2000);
    expect(retryAfterMsOf({ 'retry-after': 'Thu, 01 Jan 2026 00:00:03 GMT' }, now)).toBe(3000);
    expect(retryAfterMsOf({ 'retry-after': 'soon' }, now)).toBeUndefined();
    expect(retryAfterMsOf(undefined, now)).toBeUndefined();
  });
});

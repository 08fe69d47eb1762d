import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve } from 'node:path';

/**
 * What the rehearsal provider answers, decided only by the request: markers in the latest
 * user message script the reply. Pure functions, so the script is testable without a server.
 *
 *   [[write rel/path]]content[[/write]]   one `write` tool call per block, then "Wrote <paths>"; an
 *                                         absolute path is written as given (e.g. outside the workspace);
 *                                         calls OpenCode refused are summed up as "Refused: <tools>"
 *   [[bash]]command[[/bash]]              one `bash` tool call ({command, description}) per block, after
 *                                         the writes, in the same step; then "Ran N command(s)"
 *   [[task]]prompt[[/task]]               one `task` tool call (subagent "general") per block, whose prompt
 *                                         may hold markers of its own: they script the subagent's turn,
 *                                         not this one
 *   [[fail]] / [[fail: message]]          HTTP 400 (OpenCode fails the turn at once)
 *   [[fail-retryable]]                    HTTP 500 (OpenCode retries for about a minute)
 *   [[slow N]]                            the (closing) text streamed over N seconds
 *   [[expect-system text]]                HTTP 400 unless the system prompt contains text
 *   [[reply]]text[[/reply]]               the (closing) answer is exactly text (e.g. a review verdict)
 *   [[rate-limit N]]                      the FIRST request of the prompt (per model) answers HTTP 429 with
 *                                         `retry-after: N` (a rate_limit_error); the requests after it proceed
 *   [[quota MODEL]]                       every request to model MODEL (an id such as `scripted`) answers
 *                                         HTTP 429 insufficient_quota, no retry-after; other models proceed
 *   [[loop N]]                            the SAME bash call (`echo looping`) while fewer than N tool results
 *                                         follow the prompt, then the closing text (a runaway agent)
 *   [[steps N]]                           N steps of one distinct bash call each (`echo step <i>`), then the
 *                                         closing text
 *   [[stall N]]                           the (closing) answer sends its first chunk, then nothing at all for
 *                                         N seconds (no heartbeat), then its text
 */

/** The subset of an OpenAI chat-completions request the script reads. */
export interface ChatCompletionRequest {
  model?: string;
  stream?: boolean;
  messages?: ChatMessage[];
  tools?: Array<{ type?: string; function?: { name?: string } }>;
  [key: string]: unknown;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool' | string;
  content?: string | Array<{ type?: string; text?: string }> | null;
  tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
  tool_call_id?: string;
}

export interface RehearsalWrite {
  path: string;
  content: string;
}

export interface RehearsalMarkers {
  writes: RehearsalWrite[];
  commands: string[];
  /** Prompts of subagent (task tool) calls. */
  subtasks: string[];
  fail?: string;
  failRetryable?: string;
  slowSeconds?: number;
  expectSystem: string[];
  reply?: string;
  rateLimitSeconds?: number;
  /** The model id (without provider) whose requests fail for want of quota. */
  quotaModel?: string;
  loop?: number;
  steps?: number;
  stallSeconds?: number;
}

/** What the provider knows of a request beyond its body (planRehearsalReply stays pure). */
export interface RehearsalRequestContext {
  /** The provider already received a request of this prompt and model (rehearsalPromptKey). */
  seenBefore?: boolean;
}

export interface RehearsalToolCall {
  id: string;
  name: string;
  /** JSON text, as the protocol carries it. */
  arguments: string;
}

export type RehearsalReply =
  | RehearsalErrorReply
  | { kind: 'tool-calls'; calls: RehearsalToolCall[] }
  | { kind: 'text'; text: string; slowSeconds?: number; stallSeconds?: number };

export interface RehearsalErrorReply {
  kind: 'error';
  status: number;
  message: string;
  /** The OpenAI error body's type and code; default: from the status. */
  type?: string;
  code?: string;
  /** Sent as the `retry-after` header. */
  retryAfterSeconds?: number;
}

/** OpenAI's answers, as a provider at its limits gives them. */
export const RATE_LIMIT_ERROR = { message: 'Rate limit reached for requests', type: 'rate_limit_error', code: 'rate_limit_exceeded' } as const;
export const QUOTA_ERROR = {
  message: 'You exceeded your current quota, please check your plan and billing details.',
  type: 'insufficient_quota',
  code: 'insufficient_quota',
} as const;

/** The tool call of [[loop N]]: identical every time. */
export const LOOP_TOOL_ARGUMENTS = { command: 'echo looping', description: 'Rehearsal loop' } as const;

export interface RehearsalUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const WRITE_BLOCK = /\[\[write\s+([^\]\n]+?)\s*\]\]([\s\S]*?)\[\[\/write\]\]/g;
const BASH_BLOCK = /\[\[bash\]\]([\s\S]*?)\[\[\/bash\]\]/g;
const TASK_BLOCK = /\[\[task\]\]([\s\S]*?)\[\[\/task\]\]/g;
const FAIL = /\[\[fail(?::\s*([^\]]*?))?\s*\]\]/;
const FAIL_RETRYABLE = /\[\[fail-retryable(?::\s*([^\]]*?))?\s*\]\]/;
const SLOW = /\[\[slow\s+(\d+(?:\.\d+)?)\s*\]\]/;
const EXPECT_SYSTEM = /\[\[expect-system\s+([^\]]+?)\s*\]\]/g;
const WORKING_DIRECTORY = /Working directory:\s*(\S.*?)\s*$/m;
const REPLY = /\[\[reply\]\]([\s\S]*?)\[\[\/reply\]\]/;
const RATE_LIMIT = /\[\[rate-limit\s+(\d+(?:\.\d+)?)\s*\]\]/;
const QUOTA = /\[\[quota\s+([^\]\s]+)\s*\]\]/;
const LOOP = /\[\[loop\s+(\d+)\s*\]\]/;
const STEPS = /\[\[steps\s+(\d+)\s*\]\]/;
const STALL = /\[\[stall\s+(\d+(?:\.\d+)?)\s*\]\]/;

export const DEFAULT_FAIL_MESSAGE = 'rehearsal provider failure';
const DEFAULT_RETRYABLE_FAIL_MESSAGE = 'rehearsal provider temporary failure';

export function parseRehearsalMarkers(prompt: string): RehearsalMarkers {
  const subtasks = [...prompt.matchAll(TASK_BLOCK)].map((m) => m[1]);
  // A subtask's own markers are the subagent's script, not this turn's.
  const text = prompt.replace(TASK_BLOCK, ' ');
  const writes = [...text.matchAll(WRITE_BLOCK)].map((m) => ({ path: m[1], content: m[2] }));
  const fail = FAIL.exec(text);
  const failRetryable = FAIL_RETRYABLE.exec(text);
  const slow = SLOW.exec(text);
  const reply = REPLY.exec(text);
  const number = (pattern: RegExp) => {
    const match = pattern.exec(text);
    return match ? Number(match[1]) : undefined;
  };
  return {
    writes,
    commands: [...text.matchAll(BASH_BLOCK)].map((m) => m[1].trim()).filter((command) => command.length > 0),
    subtasks,
    fail: fail ? fail[1] || DEFAULT_FAIL_MESSAGE : undefined,
    failRetryable: failRetryable ? failRetryable[1] || DEFAULT_RETRYABLE_FAIL_MESSAGE : undefined,
    slowSeconds: slow ? Number(slow[1]) : undefined,
    expectSystem: [...text.matchAll(EXPECT_SYSTEM)].map((m) => m[1]),
    reply: reply ? reply[1] : undefined,
    rateLimitSeconds: number(RATE_LIMIT),
    quotaModel: QUOTA.exec(text)?.[1],
    loop: number(LOOP),
    steps: number(STEPS),
    stallSeconds: number(STALL),
  };
}

/**
 * Identifies a turn request by its prompt and model, for [[rate-limit N]]: only the first
 * request of a prompt is refused. Undefined for side requests (no tools offered: titles, summaries).
 */
export function rehearsalPromptKey(request: ChatCompletionRequest): string | undefined {
  const messages = request.messages ?? [];
  const lastUser = findLastIndex(messages, (m) => m.role === 'user');
  if (lastUser < 0 || (request.tools ?? []).length === 0) return undefined;
  return createHash('sha256').update(`${request.model ?? ''}\n${textOf(messages[lastUser])}`).digest('hex');
}

/** Decides the reply to one request. `callPrefix` keeps tool-call ids unique per request. */
export function planRehearsalReply(request: ChatCompletionRequest, callPrefix = 'call', context: RehearsalRequestContext = {}): RehearsalReply {
  const messages = request.messages ?? [];
  const lastUser = findLastIndex(messages, (m) => m.role === 'user');
  const offeredTools = new Set((request.tools ?? []).map((t) => t.function?.name).filter(Boolean));
  // Title generation, summaries and other side requests offer no tools: they are not the user's turn.
  if (lastUser < 0 || offeredTools.size === 0) return { kind: 'text', text: 'Rehearsal session' };

  const prompt = textOf(messages[lastUser]);
  const afterPrompt = messages.slice(lastUser + 1);
  const workingDirectory = workingDirectoryOf(messages);
  const markers = parseRehearsalMarkers(prompt);
  const pace = { slowSeconds: markers.slowSeconds, stallSeconds: markers.stallSeconds };
  // The provider's limits come before anything the model would do.
  if (markers.quotaModel !== undefined && markers.quotaModel === request.model) return { kind: 'error', status: 429, ...QUOTA_ERROR };
  if (markers.rateLimitSeconds !== undefined && !context.seenBefore) {
    return { kind: 'error', status: 429, ...RATE_LIMIT_ERROR, retryAfterSeconds: markers.rateLimitSeconds };
  }
  const toolResults = afterPrompt.filter((m) => m.role === 'tool').length;
  const repeated = repeatedCall(markers, toolResults);
  if (repeated) {
    if (!offeredTools.has(repeated.name)) return { kind: 'text', text: `The ${repeated.name} tool is not available in this turn.` };
    return { kind: 'tool-calls', calls: [{ id: `${callPrefix}_1`, ...repeated }] };
  }
  if (toolResults > 0) {
    // [[slow N]] with writes: the files are written at once, the closing answer takes N seconds.
    const text = markers.reply ?? summariseToolRound(afterPrompt, workingDirectory);
    return { kind: 'text', text, ...pace };
  }

  const system = messages.filter((m) => m.role === 'system').map(textOf).join('\n');
  const missing = markers.expectSystem.find((expected) => !system.includes(expected));
  if (missing !== undefined) return { kind: 'error', status: 400, message: `expected system text not found: ${missing}` };
  if (markers.fail !== undefined) return { kind: 'error', status: 400, message: markers.fail };
  if (markers.failRetryable !== undefined) return { kind: 'error', status: 500, message: markers.failRetryable };

  const wanted = [
    ...(markers.writes.length > 0 ? ['write'] : []),
    ...(markers.commands.length > 0 ? ['bash'] : []),
    ...(markers.subtasks.length > 0 ? ['task'] : []),
  ];
  if (wanted.length > 0) {
    // A tool the turn does not offer is not called: the model could not call it either.
    const missingTool = wanted.find((name) => !offeredTools.has(name));
    if (missingTool) return { kind: 'text', text: `The ${missingTool} tool is not available in this turn.` };
    if (!workingDirectory && markers.writes.some((w) => !isAbsolute(w.path))) {
      return { kind: 'error', status: 400, message: 'no "Working directory:" line in the system prompt' };
    }
    const writes = markers.writes.map((write) => ({
      name: 'write',
      arguments: JSON.stringify({ filePath: resolve(workingDirectory ?? '/', write.path), content: write.content }),
    }));
    const commands = markers.commands.map((command, i) => ({
      name: 'bash',
      arguments: JSON.stringify({ command, description: `Rehearsal command ${i + 1}` }),
    }));
    const subtasks = markers.subtasks.map((prompt, i) => ({
      name: 'task',
      arguments: JSON.stringify({ description: `Rehearsal subtask ${i + 1}`, prompt, subagent_type: 'general' }),
    }));
    const calls = [...writes, ...commands, ...subtasks].map((call, i) => ({ id: `${callPrefix}_${i + 1}`, ...call }));
    return { kind: 'tool-calls', calls };
  }

  if (markers.reply !== undefined) return { kind: 'text', text: markers.reply, ...pace };
  const firstLine = prompt.split('\n').find((line) => line.trim().length > 0)?.trim() ?? '';
  return { kind: 'text', text: `Rehearsal reply to: ${firstLine}`, ...pace };
}

/** [[loop N]] and [[steps N]]: one bash call per step while the turn has had fewer than N tool results. */
function repeatedCall(markers: RehearsalMarkers, toolResults: number): Omit<RehearsalToolCall, 'id'> | undefined {
  if (markers.loop !== undefined && toolResults < markers.loop) return { name: 'bash', arguments: JSON.stringify(LOOP_TOOL_ARGUMENTS) };
  if (markers.steps !== undefined && toolResults < markers.steps) {
    const step = toolResults + 1;
    return { name: 'bash', arguments: JSON.stringify({ command: `echo step ${step}`, description: `Rehearsal step ${step}` }) };
  }
  return undefined;
}

/** Deterministic, non-zero token counts: about four characters a token. */
export function rehearsalUsage(request: ChatCompletionRequest, completion: string): RehearsalUsage {
  const promptChars = (request.messages ?? []).reduce(
    (sum, m) => sum + textOf(m).length + (m.tool_calls ? JSON.stringify(m.tool_calls).length : 0),
    0,
  );
  const prompt_tokens = Math.max(1, Math.ceil(promptChars / 4));
  const completion_tokens = Math.max(1, Math.ceil(completion.length / 4));
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

function textOf(message: ChatMessage | undefined): string {
  const content = message?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part) => part.text ?? '').join('');
  return '';
}

function workingDirectoryOf(messages: ChatMessage[]): string | undefined {
  for (const message of messages) {
    if (message.role !== 'system') continue;
    const match = WORKING_DIRECTORY.exec(textOf(message));
    if (match) return match[1];
  }
  return undefined;
}

/** How OpenCode answers a tool call its permission rules denied, or a human rejected. */
const REFUSED_TOOL_RESULT = /prevents you from using this specific tool call|rejected permission to use this specific tool call/;

function summariseToolRound(afterPrompt: ChatMessage[], workingDirectory: string | undefined): string {
  const results = new Map(afterPrompt.filter((m) => m.role === 'tool').map((m) => [m.tool_call_id, textOf(m)]));
  const calls = afterPrompt.flatMap((m) => m.tool_calls ?? []);
  const refused = calls.filter((call) => REFUSED_TOOL_RESULT.test(results.get(call.id) ?? ''));
  const done = calls.filter((call) => !refused.includes(call));
  const shown = (path: string) => (workingDirectory ? relative(workingDirectory, path) : path);
  const written = done
    .filter((call) => call.function?.name === 'write')
    .map((call) => filePathOf(call.function?.arguments))
    .filter((path): path is string => path !== undefined)
    .map(shown);
  const count = (tool: string) => done.filter((call) => call.function?.name === tool).length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const lines = [
    written.length > 0 ? `Wrote ${written.join(', ')}` : '',
    count('bash') > 0 ? `Ran ${plural(count('bash'), 'command')}` : '',
    count('task') > 0 ? `Delegated ${plural(count('task'), 'subtask')}` : '',
    refused.length > 0 ? `Refused: ${refused.map((call) => call.function?.name ?? 'tool').join(', ')}` : '',
  ].filter(Boolean);
  return lines.length > 0 ? lines.join('\n') : 'Done.';
}

function filePathOf(args: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(args ?? '') as { filePath?: unknown };
    return typeof parsed.filePath === 'string' ? parsed.filePath : undefined;
  } catch {
    return undefined;
  }
}

function findLastIndex<T>(items: T[], predicate: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (predicate(items[i])) return i;
  return -1;
}

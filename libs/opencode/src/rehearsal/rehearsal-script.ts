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
}

export interface RehearsalToolCall {
  id: string;
  name: string;
  /** JSON text, as the protocol carries it. */
  arguments: string;
}

export type RehearsalReply =
  | { kind: 'error'; status: number; message: string }
  | { kind: 'tool-calls'; calls: RehearsalToolCall[] }
  | { kind: 'text'; text: string; slowSeconds?: number };

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
  return {
    writes,
    commands: [...text.matchAll(BASH_BLOCK)].map((m) => m[1].trim()).filter((command) => command.length > 0),
    subtasks,
    fail: fail ? fail[1] || DEFAULT_FAIL_MESSAGE : undefined,
    failRetryable: failRetryable ? failRetryable[1] || DEFAULT_RETRYABLE_FAIL_MESSAGE : undefined,
    slowSeconds: slow ? Number(slow[1]) : undefined,
    expectSystem: [...text.matchAll(EXPECT_SYSTEM)].map((m) => m[1]),
    reply: reply ? reply[1] : undefined,
  };
}

/** Decides the reply to one request. `callPrefix` keeps tool-call ids unique per request. */
export function planRehearsalReply(request: ChatCompletionRequest, callPrefix = 'call'): RehearsalReply {
  const messages = request.messages ?? [];
  const lastUser = findLastIndex(messages, (m) => m.role === 'user');
  const offeredTools = new Set((request.tools ?? []).map((t) => t.function?.name).filter(Boolean));
  // Title generation, summaries and other side requests offer no tools: they are not the user's turn.
  if (lastUser < 0 || offeredTools.size === 0) return { kind: 'text', text: 'Rehearsal session' };

  const prompt = textOf(messages[lastUser]);
  const afterPrompt = messages.slice(lastUser + 1);
  const workingDirectory = workingDirectoryOf(messages);
  const markers = parseRehearsalMarkers(prompt);
  if (afterPrompt.some((m) => m.role === 'tool')) {
    // [[slow N]] with writes: the files are written at once, the closing answer takes N seconds.
    const text = markers.reply ?? summariseToolRound(afterPrompt, workingDirectory);
    return { kind: 'text', text, slowSeconds: markers.slowSeconds };
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

  if (markers.reply !== undefined) return { kind: 'text', text: markers.reply, slowSeconds: markers.slowSeconds };
  const firstLine = prompt.split('\n').find((line) => line.trim().length > 0)?.trim() ?? '';
  return { kind: 'text', text: `Rehearsal reply to: ${firstLine}`, slowSeconds: markers.slowSeconds };
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

import { isAbsolute, relative, resolve } from 'node:path';
import { addUsage, TokenUsage, ZERO_USAGE } from '@app/shared';
import type {
  OpencodeAssistantMessageInfo,
  OpencodeErrorInfo,
  OpencodeMessage,
  OpencodePart,
  OpencodeTokens,
} from '../client/opencode.types';
import { TurnActivityProgress, TurnErrorCode } from './turn.types';

/** An assistant message of one turn, with its parts. */
export interface TurnAnswer {
  info: OpencodeAssistantMessageInfo;
  parts: OpencodePart[];
}

/** Tools whose input names a file they change (used when OpenCode has no git diff to offer). */
const FILE_WRITING_TOOLS = new Set(['write', 'edit', 'multiedit']);

/** The assistant messages answering one user message (a turn may take several steps). */
export function answersTo(messages: OpencodeMessage[], userMessageId: string): TurnAnswer[] {
  return messages
    .filter((m): m is TurnAnswer => m.info.role === 'assistant' && m.info.parentID === userMessageId)
    .sort((a, b) => (a.info.id < b.info.id ? -1 : a.info.id > b.info.id ? 1 : 0));
}

export function hasUserMessage(messages: OpencodeMessage[], userMessageId: string): boolean {
  return messages.some((m) => m.info.role === 'user' && m.info.id === userMessageId);
}

/** Summed over every step of the turn. OpenCode's input tokens already exclude cache reads. */
export function usageOf(answers: TurnAnswer[]): TokenUsage {
  return answers.reduce<TokenUsage>((sum, { info }) => sumUsage(sum, tokenUsageOf(info.tokens, info.cost)), { ...ZERO_USAGE });
}

/** OpenCode's tokens and cost (of a message or of one step-finish part) as TokenUsage. */
export function tokenUsageOf(tokens: Partial<OpencodeTokens> | undefined, cost: number | undefined): TokenUsage {
  return {
    inputTokens: tokens?.input ?? 0,
    outputTokens: tokens?.output ?? 0,
    reasoningTokens: tokens?.reasoning ?? 0,
    cacheReadTokens: tokens?.cache?.read ?? 0,
    cacheWriteTokens: tokens?.cache?.write ?? 0,
    costUsd: cost ?? 0,
  };
}

/** a + b (the kernel's addUsage), the cost rounded to 1e-9 USD: float sums of many small costs drift in the last digits. */
export function sumUsage(a: TokenUsage, b: TokenUsage): TokenUsage {
  const sum = addUsage(a, b);
  return { ...sum, costUsd: Math.round(sum.costUsd * 1e9) / 1e9 };
}

/** The text of the last step that said something. */
export function finalTextOf(answers: TurnAnswer[]): string {
  for (let i = answers.length - 1; i >= 0; i--) {
    const text = answers[i].parts
      .filter((p) => p.type === 'text' && !p.synthetic && typeof p.text === 'string')
      .map((p) => p.text!.trim())
      .filter(Boolean)
      .join('\n');
    if (text) return text;
  }
  return '';
}

/** The error the turn ended with, if its last failed step carries one. */
export function errorOf(answers: TurnAnswer[]): OpencodeErrorInfo | undefined {
  for (let i = answers.length - 1; i >= 0; i--) if (answers[i].info.error) return answers[i].info.error;
  return undefined;
}

/** Files the turn wrote, from `patch` parts and file-writing tools, relative to the workspace. */
export function filesFromParts(answers: TurnAnswer[], workspace: string): string[] {
  const paths: string[] = [];
  for (const part of answers.flatMap((a) => a.parts)) {
    if (part.type === 'patch') paths.push(...(part.files ?? []));
    if (part.type === 'tool' && part.state?.status === 'completed' && FILE_WRITING_TOOLS.has(part.tool ?? '')) {
      const path = part.state.input?.filePath ?? part.state.metadata?.filepath;
      if (typeof path === 'string') paths.push(path);
    }
  }
  return uniqueRelative(paths, workspace);
}

export function uniqueRelative(paths: string[], workspace: string): string[] {
  const relativePaths = paths.map((p) => (isAbsolute(p) ? relative(workspace, p) : relative(workspace, resolve(workspace, p))));
  return [...new Set(relativePaths.filter(Boolean))].sort();
}

/** Whether the last step finished (normally or with an error). */
export function lastStepFinished(answers: TurnAnswer[]): boolean {
  const last = answers.at(-1);
  return last !== undefined && (last.info.time?.completed !== undefined || last.info.error !== undefined);
}

const ABORTED_ERROR_NAME = 'MessageAbortedError';
const PROVIDER_ERROR_NAMES = new Set(['APIError', 'ProviderAuthError']);

/** What a failing provider's answer says is wrong. */
export type ProviderTrouble = NonNullable<TurnActivityProgress['trouble']>;

const QUOTA_TEXT = /insufficient[_ ]quota|quota|billing|credit balance/i;
const RATE_LIMIT_TEXT = /rate[ _-]?limit|too many requests|\b429\b/i;
const OVERLOADED_TEXT = /overloaded|\b529\b|\b503\b|capacity/i;

/**
 * Classifies a provider failure from its message (and HTTP status when known). OpenCode 1.18.33's
 * retry status carries only the provider's own message (e.g. OpenAI's "Rate limit reached for
 * requests", "You exceeded your current quota, ..."), never the status code: the text decides.
 * Quota first: an exhausted quota also comes as HTTP 429.
 */
export function classifyProviderTrouble(message: string, statusCode?: number): ProviderTrouble {
  if (QUOTA_TEXT.test(message)) return 'quota';
  if (statusCode === 429 || RATE_LIMIT_TEXT.test(message)) return 'rate-limit';
  if (statusCode === 529 || statusCode === 503 || OVERLOADED_TEXT.test(message)) return 'overloaded';
  return 'error';
}

/** Maps OpenCode's error to this adapter's codes, keeping the provider's own message. */
export function classifyError(error: OpencodeErrorInfo): { code: TurnErrorCode; message: string } {
  const message = typeof error.data?.message === 'string' && error.data.message ? error.data.message : error.name;
  if (PROVIDER_ERROR_NAMES.has(error.name)) {
    const statusCode = typeof error.data?.statusCode === 'number' ? error.data.statusCode : undefined;
    const trouble = classifyProviderTrouble(message, statusCode);
    if (trouble === 'quota') return { code: TurnErrorCode.PROVIDER_QUOTA_EXHAUSTED, message };
    if (trouble === 'rate-limit') {
      const wait = retryAfterMsOf(error.data?.responseHeaders);
      return { code: TurnErrorCode.PROVIDER_RATE_LIMITED, message: wait === undefined ? message : `${message} (retry after ${wait} ms)` };
    }
    return { code: TurnErrorCode.PROVIDER_ERROR, message };
  }
  if (error.name === ABORTED_ERROR_NAME) {
    return { code: TurnErrorCode.OPENCODE_ERROR, message: 'the turn was aborted on the OpenCode server' };
  }
  return { code: TurnErrorCode.OPENCODE_ERROR, message: message === error.name ? message : `${error.name}: ${message}` };
}

/** The provider's wait from its response headers (retry-after-ms, or retry-after in seconds or as a date). */
export function retryAfterMsOf(headers: unknown, now = Date.now()): number | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const lower = new Map(Object.entries(headers as Record<string, unknown>).map(([name, value]) => [name.toLowerCase(), String(value)]));
  const ms = Number(lower.get('retry-after-ms'));
  if (lower.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  const value = lower.get('retry-after');
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

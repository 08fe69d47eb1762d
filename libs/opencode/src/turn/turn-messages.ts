import { isAbsolute, relative, resolve } from 'node:path';
import { TokenUsage, ZERO_USAGE } from '@app/shared';
import type {
  OpencodeAssistantMessageInfo,
  OpencodeErrorInfo,
  OpencodeMessage,
  OpencodePart,
} from '../client/opencode.types';
import { TurnErrorCode } from './turn.types';

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
  const usage = answers.reduce<TokenUsage>(
    (sum, { info }) => ({
      inputTokens: sum.inputTokens + (info.tokens?.input ?? 0),
      outputTokens: sum.outputTokens + (info.tokens?.output ?? 0),
      reasoningTokens: sum.reasoningTokens + (info.tokens?.reasoning ?? 0),
      cacheReadTokens: sum.cacheReadTokens + (info.tokens?.cache?.read ?? 0),
      cacheWriteTokens: sum.cacheWriteTokens + (info.tokens?.cache?.write ?? 0),
      costUsd: sum.costUsd + (info.cost ?? 0),
    }),
    { ...ZERO_USAGE },
  );
  // Float sums of many small costs drift in the last digits.
  return { ...usage, costUsd: Math.round(usage.costUsd * 1e9) / 1e9 };
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

/** Maps OpenCode's error to this adapter's codes, keeping the provider's own message. */
export function classifyError(error: OpencodeErrorInfo): { code: TurnErrorCode; message: string } {
  const message = typeof error.data?.message === 'string' && error.data.message ? error.data.message : error.name;
  if (PROVIDER_ERROR_NAMES.has(error.name)) return { code: TurnErrorCode.PROVIDER_ERROR, message };
  if (error.name === ABORTED_ERROR_NAME) {
    return { code: TurnErrorCode.OPENCODE_ERROR, message: 'the turn was aborted on the OpenCode server' };
  }
  return { code: TurnErrorCode.OPENCODE_ERROR, message: message === error.name ? message : `${error.name}: ${message}` };
}

import { createHash } from 'node:crypto';
import { isAbsolute, relative } from 'node:path';
import { TokenUsage, ZERO_USAGE } from '@app/shared';
import type { OpencodeEvent, OpencodeFileDiff, OpencodeMessageInfo, OpencodePart, OpencodeTokens } from '../client/opencode.types';
import { sumUsage, tokenUsageOf, uniqueRelative } from './turn-messages';
import type { TurnActivityProgress, TurnProgress, TurnToolStatus } from './turn.types';

export interface TurnProgressOptions {
  /** The turn's workspace: paths are reported relative to it. */
  directory: string;
  /** The turn's user message: its own parts (the prompt) are not progress. */
  userMessageId: string;
  /** Streamed text is forwarded at most this often per part (deltas in between are joined). */
  textFlushMs: number;
  emit: (progress: TurnProgress) => void;
}

const FILE_WRITING_TOOLS = new Set(['write', 'edit', 'multiedit']);
const TOOL_STATUSES = new Set<string>(['pending', 'running', 'completed', 'error']);
const MAX_SUMMARY = 200;

/**
 * Turns the OpenCode events of one turn's session into progress: text as it streams (deltas
 * coalesced), tool calls at each change of status, files as they are written, and what the
 * session is doing. The caller feeds only events of the turn's session, in stream order.
 *
 * Order: progress comes out in the order of the events; pending text is flushed before any other
 * progress, so text written before a tool call is reported before it.
 */
export class TurnProgressTracker {
  private readonly partTypes = new Map<string, string>();
  private readonly toolStatuses = new Map<string, string>();
  private readonly files = new Set<string>();
  /** Text forwarded so far per part, to send only what a finished part adds (missed deltas). */
  private readonly sentText = new Map<string, string>();
  private readonly pendingText = new Map<string, { messageId: string; text: string }>();
  private flushTimer?: NodeJS.Timeout;
  private lastActivity?: string;
  private closed = false;
  /** step-finish parts counted (a part may be updated again). */
  private readonly countedSteps = new Set<string>();
  /** "provider/model" per assistant message, from message.updated. */
  private readonly messageModels = new Map<string, string>();
  private totalUsage: TokenUsage = { ...ZERO_USAGE };
  private ownSteps = 0;

  constructor(private readonly options: TurnProgressOptions) {}

  onEvent(event: OpencodeEvent): void {
    const props = event.properties;
    switch (event.type) {
      case 'message.updated':
        return this.noteModel(props.info as Partial<OpencodeMessageInfo> | undefined);
      case 'message.part.updated':
        return this.onPart(props.part as OpencodePart | undefined);
      case 'message.part.delta':
        return this.onDelta(props);
      case 'session.diff':
        return this.reportFiles(((props.diff as OpencodeFileDiff[] | undefined) ?? []).map((d) => d.file));
    }
  }

  /**
   * An event of one of the turn's subagent sessions: only its steps' usage counts (its text and
   * tool calls are not the turn's progress).
   */
  onSubagentEvent(event: OpencodeEvent): void {
    if (event.type === 'message.updated') return this.noteModel(event.properties.info as Partial<OpencodeMessageInfo> | undefined);
    const part = event.properties.part as OpencodePart | undefined;
    if (event.type === 'message.part.updated' && part?.type === 'step-finish') this.onStepFinish(part, false);
  }

  /** busy and idle are reported once per change; every retry is reported. */
  activity(state: TurnActivityProgress['state'], extra: Omit<TurnActivityProgress, 'state'> = {}): void {
    if (state === this.lastActivity && state !== 'retry') return;
    this.lastActivity = state;
    this.emit({ kind: 'activity', detail: { state, ...extra } });
  }

  /** Forwards the text gathered since the last flush, one progress per part. */
  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const pending = [...this.pendingText];
    this.pendingText.clear();
    for (const [partId, { messageId, text }] of pending) {
      this.sentText.set(partId, (this.sentText.get(partId) ?? '') + text);
      this.deliver({ kind: 'text', detail: { messageId, partId, delta: text } });
    }
  }

  /** Flushes what is pending and reports nothing more. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private onPart(part: OpencodePart | undefined): void {
    if (!part || part.messageID === this.options.userMessageId) return;
    this.partTypes.set(part.id, part.type);
    if (part.type === 'tool') this.onToolPart(part);
    else if (part.type === 'step-finish') this.onStepFinish(part, true);
    else if (part.type === 'patch') this.reportFiles(part.files ?? []);
    else if (part.type === 'text' && part.time?.end && typeof part.text === 'string' && !part.synthetic) this.onTextEnd(part);
  }

  private onToolPart(part: OpencodePart): void {
    const callId = part.callID ?? part.id;
    const status = (TOOL_STATUSES.has(part.state?.status ?? '') ? part.state!.status : 'pending') as TurnToolStatus;
    if (this.toolStatuses.get(callId) !== status) {
      this.toolStatuses.set(callId, status);
      const state = part.state;
      const input = summarizeToolInput(state?.input, this.options.directory);
      // A pending call's input is not known yet.
      const signature = status !== 'pending' && state?.input ? toolCallSignature(part.tool ?? 'unknown', state.input) : undefined;
      this.emit({
        kind: 'tool',
        detail: {
          messageId: part.messageID,
          partId: part.id,
          callId,
          tool: part.tool ?? 'unknown',
          status,
          ...(state?.title ? { title: truncate(state.title) } : {}),
          ...(input ? { input } : {}),
          ...(state?.error ? { error: truncate(state.error, 1000) } : {}),
          ...(signature ? { signature } : {}),
        },
      });
    }
    const path = part.state?.input?.filePath ?? part.state?.metadata?.filepath;
    if (status === 'completed' && FILE_WRITING_TOOLS.has(part.tool ?? '') && typeof path === 'string') this.reportFiles([path]);
  }

  private noteModel(info: Partial<OpencodeMessageInfo> | undefined): void {
    if (info?.role !== 'assistant' || typeof info.id !== 'string') return;
    if (info.providerID && info.modelID) this.messageModels.set(info.id, `${info.providerID}/${info.modelID}`);
  }

  /** One finished model step: its usage, once per part (of the turn's session or a subagent's). */
  private onStepFinish(part: OpencodePart, own: boolean): void {
    if (this.countedSteps.has(part.id)) return;
    this.countedSteps.add(part.id);
    const { tokens, cost } = part as OpencodePart & { tokens?: Partial<OpencodeTokens>; cost?: number };
    const step = tokenUsageOf(tokens, cost);
    this.totalUsage = sumUsage(this.totalUsage, step);
    if (own) this.ownSteps++;
    const model = this.messageModels.get(part.messageID);
    this.emit({ kind: 'usage', detail: { step, total: { ...this.totalUsage }, steps: this.ownSteps, ...(model ? { model } : {}) } });
  }

  /** A finished text part: forward what its deltas did not bring (all of it when they were missed, e.g. a reconnect). */
  private onTextEnd(part: OpencodePart): void {
    this.flush();
    const sent = this.sentText.get(part.id) ?? '';
    const full = part.text ?? '';
    if (full.length > sent.length && full.startsWith(sent)) {
      this.sentText.set(part.id, full);
      this.deliver({ kind: 'text', detail: { messageId: part.messageID, partId: part.id, delta: full.slice(sent.length) } });
    }
  }

  private onDelta(props: Record<string, unknown>): void {
    const partId = props.partID;
    const messageId = props.messageID;
    const delta = props.delta;
    if (typeof partId !== 'string' || typeof messageId !== 'string' || typeof delta !== 'string' || !delta) return;
    if (messageId === this.options.userMessageId || props.field !== 'text') return;
    const type = this.partTypes.get(partId);
    if (type !== undefined && type !== 'text') return; // reasoning streams the same way
    const pending = this.pendingText.get(partId);
    if (pending) pending.text += delta;
    else this.pendingText.set(partId, { messageId, text: delta });
    if (!this.flushTimer && !this.closed) {
      this.flushTimer = setTimeout(() => this.flush(), this.options.textFlushMs);
      this.flushTimer.unref?.();
    }
  }

  private reportFiles(paths: string[]): void {
    const fresh = uniqueRelative(paths, this.options.directory).filter((p) => !this.files.has(p));
    if (fresh.length === 0) return;
    for (const p of fresh) this.files.add(p);
    this.emit({ kind: 'files', detail: { files: [...this.files].sort(), latest: fresh } });
  }

  /** Any progress but text: the text before it goes first. */
  private emit(progress: TurnProgress): void {
    this.flush();
    this.deliver(progress);
  }

  private deliver(progress: TurnProgress): void {
    if (this.closed) return;
    try {
      this.options.emit(progress);
    } catch {
      // A listener's failure must not break the turn.
    }
  }
}

/**
 * One line saying what a tool call works on: its file path (relative to the workspace), command,
 * pattern, URL or description; otherwise its input as short JSON. Never the content it writes.
 */
export function summarizeToolInput(input: Record<string, unknown> | undefined, directory: string): string | undefined {
  if (!input || Object.keys(input).length === 0) return undefined;
  const path = input.filePath ?? input.path;
  if (typeof path === 'string' && path) {
    const shown = isAbsolute(path) ? relative(directory, path) || '.' : path;
    return truncate(typeof input.pattern === 'string' ? `${input.pattern} in ${shown}` : shown);
  }
  for (const key of ['command', 'pattern', 'url', 'description', 'query', 'prompt']) {
    const value = input[key];
    if (typeof value === 'string' && value) return truncate(value.replace(/\s+/g, ' ').trim());
  }
  const { content: _c, oldString: _o, newString: _n, ...rest } = input;
  const json = JSON.stringify(rest);
  return json === '{}' ? undefined : truncate(json);
}

/** sha256 (hex, 16 characters) of the tool name and its input's canonical JSON (keys sorted, at every depth). */
export function toolCallSignature(tool: string, input: Record<string, unknown>): string {
  return createHash('sha256').update(`${tool}\n${canonicalJson(input)}`).digest('hex').slice(0, 16);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function truncate(text: string, max = MAX_SUMMARY): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

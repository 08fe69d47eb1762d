import { stat } from 'node:fs/promises';
import { isAbsolute, relative } from 'node:path';
import { ZERO_USAGE } from '@app/shared';
import { OpencodeError } from '../client/opencode-error';
import type { OpencodeEventSubscription } from '../client/opencode-event-stream';
import type { OpencodeHttpClient } from '../client/opencode-http-client';
import type {
  OpencodeErrorInfo,
  OpencodeEvent,
  OpencodePermissionRequest,
  OpencodePromptBody,
  OpencodeSessionInfo,
  OpencodeSessionStatus,
} from '../client/opencode.types';
import {
  answersTo,
  classifyError,
  classifyProviderTrouble,
  errorOf,
  filesFromParts,
  finalTextOf,
  hasUserMessage,
  lastStepFinished,
  TurnAnswer,
  uniqueRelative,
  usageOf,
} from './turn-messages';
import { TurnProgressTracker } from './turn-progress';
import {
  RunTurnOptions,
  TurnErrorCode,
  TurnOutcome,
  TurnPermissionReply,
  TurnPermissionRequest,
  TurnPermissionWithdrawal,
  TurnRef,
  TurnRequest,
} from './turn.types';

export interface TurnRunnerTimings {
  /** How often the turn's state is re-read from OpenCode, whatever the event stream says. */
  reconcileIntervalMs: number;
  /** A server silent for this long fails the turn with OPENCODE_UNAVAILABLE. */
  unavailableAfterMs: number;
  /** After sending, how long OpenCode may show no sign of working on the prompt. */
  notStartedGraceMs: number;
  /** After an abort, how long to wait for the turn to settle before reporting it aborted anyway. */
  abortSettleMs: number;
  /** After `session.error`, how long to wait for the idle that usually follows (some failures send none). */
  errorSettleMs: number;
  /** Streamed text is forwarded to onProgress at most this often per part (deltas in between are joined). */
  textFlushMs: number;
  /** OpenCode retries a failing provider by itself; past this many retries the turn is stopped. */
  maxProviderRetries: number;
}

export const DEFAULT_TURN_TIMINGS: TurnRunnerTimings = {
  reconcileIntervalMs: 3_000,
  unavailableAfterMs: 30_000,
  notStartedGraceMs: 20_000,
  abortSettleMs: 5_000,
  errorSettleMs: 1_500,
  textFlushMs: 200,
  maxProviderRetries: 8,
};

/** How following a turn ended, before its outcome is read from OpenCode. */
type Ending =
  /** OpenCode says the turn is over: its messages tell how. */
  | { kind: 'settled' }
  /** The abort did not settle in time: report what there is. */
  | { kind: 'abort-timeout' }
  /** Aborted before anything was sent. */
  | { kind: 'aborted-unsent' }
  /** Detached: the turn goes on, unwatched, for another follower. */
  | { kind: 'detached' }
  | { kind: 'failed'; code: TurnErrorCode; message: string; readMessages: boolean }
  | { kind: 'lost'; message: string; readMessages: boolean };

/** One permission request of the turn, from the moment it is seen to OpenCode having the answer. */
interface PermissionHandling {
  request: TurnPermissionRequest;
  /** Aborted (with a TurnPermissionWithdrawal) when the answer is no longer wanted. */
  withdrawal: AbortController;
  seenAt: number;
  /** The answer, once decided. */
  reply?: TurnPermissionReply;
  sending: boolean;
  /** OpenCode has the answer (or no longer waits for one). */
  settled: boolean;
}

/** How far up a session's parents to look for the turn's session (a subagent of a subagent...). */
const MAX_SUBAGENT_DEPTH = 4;

/** Follows one turn from the prompt to its outcome. One instance per runTurn call. */
export class TurnFollower {
  private readonly directory: string;
  private readonly sessionId: string;
  private readonly messageId: string;
  private subscription?: OpencodeEventSubscription;
  private readonly timers = new Set<NodeJS.Timeout>();
  private ending?: Ending;
  private resolveEnding!: (ending: Ending) => void;
  private readonly ended = new Promise<Ending>((resolve) => (this.resolveEnding = resolve));

  private sentAt = Date.now();
  private lastContactAt = Date.now();
  /** Last event of our own session; the periodic reconcile runs only when the stream went quiet. */
  private lastEventAt = 0;
  private sawBusy = false;
  private eventError?: OpencodeErrorInfo;
  private retryAttempt = 0;
  private retries = 0;
  private abortRequested = false;
  private interruptedSightings = 0;
  private reconcileInFlight = false;
  private readonly progress: TurnProgressTracker;
  /** The turn's session and its subagents' (child) sessions: their permission requests are the turn's. */
  private readonly turnSessions = new Set<string>();
  /** Sessions of the directory known not to belong to the turn. */
  private readonly otherSessions = new Set<string>();
  private readonly permissions = new Map<string, PermissionHandling>();
  /** The last request this turn refused (a refusal stops OpenCode's turn). */
  private refused?: TurnPermissionRequest;

  constructor(
    private readonly client: OpencodeHttpClient,
    ref: TurnRef,
    private readonly request: TurnRequest,
    private readonly options: RunTurnOptions,
    private readonly timings: TurnRunnerTimings,
  ) {
    this.directory = request.workspace;
    this.sessionId = ref.opencodeSessionId;
    this.messageId = ref.messageId;
    this.turnSessions.add(this.sessionId);
    this.progress = new TurnProgressTracker({
      directory: this.directory,
      userMessageId: this.messageId,
      textFlushMs: timings.textFlushMs,
      emit: (progress) => this.options.onProgress?.(progress),
    });
  }

  async run(): Promise<TurnOutcome> {
    const { signal, detach } = this.options;
    const onAbort = () => void this.abort();
    const onDetach = () => this.end({ kind: 'detached' });
    try {
      if (detach?.aborted) return detachedOutcome();
      if (!(await isDirectory(this.directory))) {
        return failedOutcome(TurnErrorCode.WORKSPACE_MISSING, `workspace ${this.directory} is not a directory`);
      }
      if (signal.aborted && !this.options.resume) return this.outcomeOf({ kind: 'aborted-unsent' });
      try {
        // Before the prompt: OpenCode replays nothing.
        this.subscription = await this.client.subscribeShared({
          directory: this.directory,
          onEvent: (event) => this.onEvent(event),
          onReconnect: () => void this.reconcile(),
          connectTimeoutMs: this.timings.unavailableAfterMs,
        });
      } catch (err) {
        return this.outcomeOf(this.failureFrom(OpencodeError.from(err, 'subscribe to events')));
      }
      const early = await this.startTurn();
      if (early) return await this.outcomeOf(early);
      // Once the prompt is out: a resumed follower finds it sent (detached earlier, it sends it itself).
      detach?.addEventListener('abort', onDetach, { once: true });
      if (detach?.aborted) onDetach();
      signal.addEventListener('abort', onAbort, { once: true });
      if (signal.aborted) void this.abort();
      // Polling costs the (CPU-bound) OpenCode server: only when the stream went quiet for our session.
      this.every(this.timings.reconcileIntervalMs, () => {
        if (Date.now() - this.lastEventAt >= this.timings.reconcileIntervalMs) void this.reconcile();
      });
      // A resumed turn may have ended while nobody watched.
      if (this.options.resume) void this.reconcile();
      return await this.outcomeOf(await this.ended);
    } finally {
      signal.removeEventListener('abort', onAbort);
      detach?.removeEventListener('abort', onDetach);
      // Detached, the turn's requests stay pending on the server for whoever follows it next.
      this.withdrawPermissions(this.ending?.kind !== 'detached');
      // Every progress is reported before runTurn resolves (the session's final transition comes after it).
      this.progress.close();
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      this.subscription?.close();
    }
  }

  // ---- sending -------------------------------------------------------------------------

  /** Sends the prompt unless a resumed turn already has it; returns an ending when it cannot go on. */
  private async startTurn(): Promise<Ending | undefined> {
    if (this.options.resume) {
      const found = await this.findSentPrompt();
      if (found !== 'not-sent') return found === 'sent' ? undefined : found;
    }
    if (this.options.signal.aborted) return { kind: 'aborted-unsent' };
    return this.sendPrompt();
  }

  private async sendPrompt(): Promise<Ending | undefined> {
    let body: OpencodePromptBody;
    try {
      body = this.promptBody();
    } catch (err) {
      return { kind: 'failed', code: TurnErrorCode.OPENCODE_ERROR, message: (err as Error).message, readMessages: false };
    }
    for (;;) {
      try {
        await this.client.promptAsync(this.directory, this.sessionId, body);
        this.sentAt = this.lastContactAt = Date.now();
        return undefined;
      } catch (err) {
        const error = OpencodeError.from(err, 'send the prompt');
        if (error.isNotFound) return this.sessionLost();
        if (!error.isUnavailable) {
          return { kind: 'failed', code: TurnErrorCode.OPENCODE_ERROR, message: `OpenCode refused the prompt: ${error.message}`, readMessages: false };
        }
        if (this.silentTooLong()) return this.failureFrom(error);
        await sleep(1_000);
        // A timed-out request may still have arrived: look before sending it again (a reused id fails the turn).
        const found = await this.findSentPrompt();
        if (found === 'sent') return undefined;
        if (found !== 'not-sent') return found;
      }
    }
  }

  /** Whether OpenCode already has the prompt: its user message, or the session already busy. */
  private async findSentPrompt(): Promise<'sent' | 'not-sent' | Ending> {
    for (;;) {
      try {
        const messages = await this.client.messages(this.directory, this.sessionId);
        this.lastContactAt = Date.now();
        if (hasUserMessage(messages, this.messageId)) return 'sent';
        const status = (await this.client.sessionStatus(this.directory))[this.sessionId];
        return status && status.type !== 'idle' ? 'sent' : 'not-sent';
      } catch (err) {
        const error = OpencodeError.from(err, 'look for the prompt');
        if (error.isNotFound) return this.sessionLost();
        if (!error.isUnavailable || this.silentTooLong()) return this.failureFrom(error);
        await sleep(1_000);
      }
    }
  }

  private promptBody(): OpencodePromptBody {
    const { agent, system, prompt } = this.request;
    const model = parseModel(this.request.model ?? this.client.defaultModel);
    const body: OpencodePromptBody = { messageID: this.messageId, agent, parts: [{ type: 'text', text: prompt }] };
    // OpenCode remembers neither agent nor model between prompts: both go with every prompt.
    if (model) body.model = model;
    if (system) body.system = system;
    // Never the prompt's `tools` map: OpenCode 1.18.33 replaces the session's whole permission
    // ruleset with it. Disabled tools are deny rules of that ruleset (permission-ruleset.ts).
    return body;
  }

  // ---- following -------------------------------------------------------------------------

  private onEvent(event: OpencodeEvent): void {
    if (this.ending) return;
    if (event.type === 'session.created' || event.type === 'session.updated') this.noteSubagent(event);
    const sessionId = sessionIdOf(event);
    if (!sessionId) return;
    if (!this.turnSessions.has(sessionId)) {
      // A subagent that started while nobody followed the turn (resumed) is found by its parents.
      if (event.type === 'permission.asked' && (event.directory ?? this.directory) === this.directory) {
        void this.onPermissionAsked(event.properties, true);
      }
      return;
    }
    this.lastContactAt = Date.now();
    if (event.type === 'permission.asked') return void this.onPermissionAsked(event.properties, false);
    if (event.type === 'permission.replied') return this.onPermissionReplied(event.properties);
    // A subagent's own progress and status are not the turn's; only its steps' usage counts.
    if (sessionId !== this.sessionId) return this.progress.onSubagentEvent(event);
    this.lastEventAt = Date.now();
    const props = event.properties;
    switch (event.type) {
      case 'session.status':
        return this.onStatus(props.status as OpencodeSessionStatus);
      case 'session.idle':
        return this.onIdle();
      case 'session.error':
        return this.onSessionError(props.error as OpencodeErrorInfo | undefined);
      default:
        return this.progress.onEvent(event);
    }
  }

  private onStatus(status: OpencodeSessionStatus | undefined): void {
    if (!status) return;
    if (status.type === 'idle') return this.onIdle();
    this.sawBusy = true;
    this.interruptedSightings = 0;
    if (status.type === 'busy') return this.progress.activity('busy');
    if (status.attempt === this.retryAttempt) return;
    this.retryAttempt = status.attempt;
    this.retries++;
    const message = typeof status.message === 'string' ? status.message : '';
    const trouble = classifyProviderTrouble(message);
    const retryAt = typeof status.next === 'number' ? { retryAt: status.next } : {};
    this.progress.activity('retry', { retryAttempt: status.attempt, message: status.message, trouble, ...retryAt });
    // OpenCode 1.18.33 retries an exhausted quota like a rate limit (five tries over about 40 s):
    // waiting does not bring credit back, so the turn fails at once and the caller may fall back.
    if (trouble === 'quota') return this.giveUpRetrying(message, TurnErrorCode.PROVIDER_QUOTA_EXHAUSTED);
    if (this.retries > this.timings.maxProviderRetries) {
      this.giveUpRetrying(message, trouble === 'rate-limit' ? TurnErrorCode.PROVIDER_RATE_LIMITED : TurnErrorCode.PROVIDER_ERROR);
    }
  }

  private onIdle(): void {
    // An idle before our prompt was picked up says nothing about our turn.
    if (!this.sawBusy && !this.eventError && !this.abortRequested) return;
    this.end({ kind: 'settled' });
  }

  private onSessionError(error: OpencodeErrorInfo | undefined): void {
    this.eventError = error ?? { name: 'UnknownError', data: { message: 'session.error without details' } };
    if (this.abortRequested) return;
    // The idle usually follows at once; an early refusal (unknown agent) sends none.
    this.after(this.timings.errorSettleMs, () => this.end({ kind: 'settled' }));
  }

  private giveUpRetrying(message: string, code: TurnErrorCode): void {
    void this.client.abort(this.directory, this.sessionId).catch(() => undefined);
    this.end({
      kind: 'failed',
      code,
      message:
        code === TurnErrorCode.PROVIDER_QUOTA_EXHAUSTED
          ? `the model provider refused for want of quota: ${message}`
          : `the model provider kept failing (${this.retries} retries): ${message}`,
      readMessages: true,
    });
  }

  // ---- permissions -----------------------------------------------------------------------

  /** A session whose parent is one of the turn's is a subagent of the turn. */
  private noteSubagent(event: OpencodeEvent): void {
    const info = event.properties.info as Partial<OpencodeSessionInfo> | undefined;
    if (typeof info?.id === 'string' && typeof info.parentID === 'string' && this.turnSessions.has(info.parentID)) {
      this.turnSessions.add(info.id);
      this.otherSessions.delete(info.id);
    }
  }

  private async onPermissionAsked(props: Record<string, unknown>, checkSession: boolean): Promise<void> {
    const request = asPermissionRequest(props);
    if (!request) return;
    if (checkSession && !(await this.isTurnSession(request.sessionID))) return;
    await this.handlePermission(request);
  }

  /** OpenCode settled a request: by our answer, or without it (an earlier `always`, another follower's answer). */
  private onPermissionReplied(props: Record<string, unknown>): void {
    const handling = typeof props.requestID === 'string' ? this.permissions.get(props.requestID) : undefined;
    if (!handling || handling.settled) return;
    handling.settled = true;
    if (handling.reply) return;
    const reply = isPermissionReply(props.reply) ? props.reply : 'reject';
    handling.withdrawal.abort({ kind: 'settled', reply } satisfies TurnPermissionWithdrawal);
  }

  /** Asks onPermission once per request (without one: reject at once), then answers OpenCode. */
  private async handlePermission(raw: OpencodePermissionRequest): Promise<void> {
    if (this.ending || this.permissions.has(raw.id)) return;
    const handling: PermissionHandling = {
      request: toTurnPermission(raw, this.directory),
      withdrawal: new AbortController(),
      seenAt: Date.now(),
      sending: false,
      settled: false,
    };
    this.permissions.set(raw.id, handling);
    let reply: TurnPermissionReply = 'reject';
    if (this.options.onPermission) {
      try {
        reply = await this.options.onPermission(handling.request, handling.withdrawal.signal);
      } catch {
        reply = 'reject'; // a handler that fails must not leave OpenCode waiting
      }
    }
    if (handling.withdrawal.signal.aborted) return;
    handling.reply = isPermissionReply(reply) ? reply : 'reject';
    if (handling.reply === 'reject') this.refused = handling.request;
    await this.sendReply(handling);
  }

  /** Best effort: a reply that does not arrive is sent again by the next reconcile, which still sees the request. */
  private async sendReply(handling: PermissionHandling): Promise<void> {
    if (!handling.reply || handling.sending || handling.settled) return;
    handling.sending = true;
    try {
      await this.client.replyPermission(this.directory, handling.request.requestId, handling.reply);
      handling.settled = true;
      this.lastContactAt = Date.now();
    } catch (err) {
      // 404: OpenCode no longer waits for it (answered already, or its turn is over).
      if (OpencodeError.from(err, 'answer a permission request').isNotFound) handling.settled = true;
    } finally {
      handling.sending = false;
    }
  }

  /**
   * Requests pending on OpenCode, whatever the stream said: one asked while nobody followed the
   * turn (resumed), an answer that did not arrive, a request OpenCode dropped (its turn is gone).
   */
  private async reconcilePermissions(): Promise<void> {
    const listedAt = Date.now();
    const pending = await this.client.pendingPermissions(this.directory);
    const pendingIds = new Set(pending.map((p) => p.id));
    for (const request of pending) {
      const handling = this.permissions.get(request.id);
      if (!handling) {
        if (await this.isTurnSession(request.sessionID)) void this.handlePermission(request);
      } else if (handling.reply && !handling.sending) {
        handling.settled = false;
        void this.sendReply(handling);
      }
    }
    for (const handling of this.permissions.values()) {
      if (handling.settled || handling.reply || handling.seenAt >= listedAt || pendingIds.has(handling.request.requestId)) continue;
      // OpenCode no longer waits for it (its turn was interrupted): nobody needs to decide it.
      handling.settled = true;
      handling.withdrawal.abort({ kind: 'turn-ended' } satisfies TurnPermissionWithdrawal);
    }
  }

  /** Whether a session is the turn's or, through its parents, a subagent of it. */
  private async isTurnSession(id: string): Promise<boolean> {
    if (this.turnSessions.has(id)) return true;
    if (this.otherSessions.has(id)) return false;
    const chain = [id];
    for (let depth = 0; depth < MAX_SUBAGENT_DEPTH; depth++) {
      let info: OpencodeSessionInfo;
      try {
        info = await this.client.getSession(this.directory, chain[chain.length - 1]);
      } catch {
        return false; // unknown for now; the next reconcile asks again
      }
      if (!info.parentID) break;
      if (this.turnSessions.has(info.parentID)) {
        chain.forEach((child) => this.turnSessions.add(child));
        return true;
      }
      chain.push(info.parentID);
    }
    this.otherSessions.add(id);
    return false;
  }

  /** A request waits for a decision (a human's, through onPermission). */
  private awaitingDecision(): boolean {
    for (const handling of this.permissions.values()) if (!handling.reply && !handling.settled) return true;
    return false;
  }

  /**
   * The turn is over for this follower: pending decisions are withdrawn, and OpenCode, which
   * keeps an unanswered request pending even after the session was aborted, gets a refusal
   * (`refuse`; not when the turn goes on for another follower).
   */
  private withdrawPermissions(refuse: boolean): void {
    for (const handling of this.permissions.values()) {
      if (handling.settled) continue;
      handling.withdrawal.abort((refuse ? { kind: 'turn-ended' } : { kind: 'detached' }) satisfies TurnPermissionWithdrawal);
      if (handling.sending || !refuse) continue;
      handling.settled = true;
      void withTimeout(this.client.replyPermission(this.directory, handling.request.requestId, 'reject'), this.timings.abortSettleMs).catch(
        () => undefined,
      );
    }
  }

  private async abort(): Promise<void> {
    if (this.ending || this.abortRequested) return;
    this.abortRequested = true;
    this.after(this.timings.abortSettleMs, () => this.end({ kind: 'abort-timeout' }));
    await withTimeout(this.client.abort(this.directory, this.sessionId), this.timings.abortSettleMs).catch(() => undefined);
    void this.reconcile();
  }

  /**
   * The stream is a hint, OpenCode's state is the truth: re-read the session's status and the
   * turn's messages (periodically, after a reconnect, after an abort).
   */
  private async reconcile(): Promise<void> {
    if (this.ending || this.reconcileInFlight) return;
    this.reconcileInFlight = true;
    try {
      const [statuses, messages] = await Promise.all([
        this.client.sessionStatus(this.directory),
        this.client.messages(this.directory, this.sessionId),
      ]);
      this.lastContactAt = Date.now();
      if (this.ending) return;
      await this.reconcilePermissions().catch(() => undefined);
      if (this.ending) return;
      const status = statuses[this.sessionId];
      if (status && status.type !== 'idle') return this.onStatus(status);
      if (this.abortRequested || this.eventError) return this.end({ kind: 'settled' });
      const answers = answersTo(messages, this.messageId);
      if (lastStepFinished(answers)) return this.end({ kind: 'settled' });
      if (answers.length === 0 && !this.sawBusy && Date.now() - this.sentAt < this.timings.notStartedGraceMs) return;
      // Waiting for a human is not silence: OpenCode still holds the request (reconcilePermissions checked).
      if (this.awaitingDecision()) return;
      // Going idle and completing the last step are separate writes: confirm on the next round.
      if (++this.interruptedSightings < 2) return;
      this.end({
        kind: 'lost',
        message: hasUserMessage(messages, this.messageId)
          ? 'the turn is neither running nor finished on the OpenCode server: it was interrupted (e.g. the server restarted mid-turn)'
          : 'OpenCode accepted the prompt but has no trace of it: the turn was lost (e.g. the server restarted)',
        readMessages: true,
      });
    } catch (err) {
      const error = OpencodeError.from(err, 'reconcile the turn');
      if (error.isNotFound) return this.end(this.sessionLost());
      if (this.silentTooLong()) this.end(this.failureFrom(error));
    } finally {
      this.reconcileInFlight = false;
    }
  }

  private end(ending: Ending): void {
    if (this.ending) return;
    this.ending = ending;
    this.resolveEnding(ending);
  }

  // ---- outcome ---------------------------------------------------------------------------

  private async outcomeOf(ending: Ending): Promise<TurnOutcome> {
    if (ending.kind === 'aborted-unsent') return abortedOutcome('', [], { ...ZERO_USAGE });
    if (ending.kind === 'detached') return detachedOutcome();
    const readMessages = ending.kind === 'settled' || ending.kind === 'abort-timeout' || ending.readMessages;
    let answers: TurnAnswer[] = [];
    let messagesRead = false;
    let unreadable: OpencodeError | undefined;
    if (readMessages) {
      // Otherwise the outcome stands without usage details.
      const read = await this.readAnswers(ending.kind === 'settled' && !this.abortRequested);
      if (read instanceof OpencodeError) unreadable = read;
      else [answers, messagesRead] = [read, true];
    }
    const summary = finalTextOf(answers);
    const usage = usageOf(answers);
    const filesChanged = readMessages ? await this.changedFiles(answers) : [];
    this.progress.activity('idle');
    const base = { summary, filesChanged, usage };

    if (ending.kind === 'failed') return { ...base, status: 'failed', error: { code: ending.code, message: ending.message } };
    if (ending.kind === 'lost') {
      return { ...base, status: 'lost', error: { code: TurnErrorCode.OPENCODE_SESSION_LOST, message: ending.message } };
    }
    const error = errorOf(answers) ?? this.eventError;
    // A refused permission stops OpenCode's turn after that step: it did not do what it was asked.
    if (!error && this.refused && !this.abortRequested && answers.at(-1)?.info.finish === 'tool-calls') {
      return { ...base, status: 'failed', error: { code: TurnErrorCode.PERMISSION_DENIED, message: refusalMessage(this.refused) } };
    }
    // Aborted between two steps (the last one asked for tools: finish "tool-calls") or while
    // OpenCode waited to retry the provider (no finish reason), the last message is closed without
    // an error: that is an aborted turn, not a completed one.
    const lastFinish = answers.at(-1)?.info.finish;
    const abortedUnfinished = this.abortRequested && (!lastFinish || lastFinish === 'tool-calls');
    if (!error && lastStepFinished(answers) && !abortedUnfinished) return { ...base, status: 'completed' };
    if (this.abortRequested) return abortedOutcome(summary, filesChanged, usage);
    if (error) return { ...base, status: 'failed', error: classifyError(error) };
    if (messagesRead && answers.length === 0) {
      return { ...base, status: 'failed', error: { code: TurnErrorCode.OPENCODE_ERROR, message: 'OpenCode ended the turn without any answer' } };
    }
    // Over, OpenCode said, but the server went before its answer was read: not a completion with nothing in it.
    if (unreadable && ending.kind === 'settled') {
      const code = unreadable.isUnavailable ? TurnErrorCode.OPENCODE_UNAVAILABLE : TurnErrorCode.OPENCODE_ERROR;
      return { ...base, status: 'failed', error: { code, message: `OpenCode ended the turn, but its answer could not be read: ${unreadable.message}` } };
    }
    return { ...base, status: 'completed' };
  }

  /**
   * The turn's answers, or why they could not be read. `persist`: the answers of a turn OpenCode
   * said is over are asked for again while the server does not answer (it may be restarting), up
   * to the silence limit or until the worker stops the turn.
   */
  private async readAnswers(persist: boolean): Promise<TurnAnswer[] | OpencodeError> {
    for (;;) {
      try {
        const answers = answersTo(await this.client.messages(this.directory, this.sessionId), this.messageId);
        this.lastContactAt = Date.now();
        return answers;
      } catch (err) {
        const error = OpencodeError.from(err, "read the turn's messages");
        if (!persist || !error.isUnavailable || this.silentTooLong() || this.options.signal.aborted) return error;
        await sleep(1_000);
      }
    }
  }

  /** The git diff of the turn when OpenCode has one (a git work tree), else what the tools wrote. */
  private async changedFiles(answers: TurnAnswer[]): Promise<string[]> {
    // OpenCode snapshots (and so diffs) only git work trees, and then records `patch` parts:
    // without one, the diff request would cost the server work for an empty answer.
    const snapshotted = answers.some((a) => a.parts.some((p) => p.type === 'patch'));
    if (!snapshotted) return filesFromParts(answers, this.directory);
    try {
      const diffs = await this.client.diff(this.directory, this.sessionId, this.messageId);
      if (diffs.length > 0) return uniqueRelative(diffs.map((d) => d.file), this.directory);
    } catch {
      // Fall back to the parts.
    }
    return filesFromParts(answers, this.directory);
  }

  private sessionLost(): Ending {
    return { kind: 'lost', message: `OpenCode does not know session ${this.sessionId}`, readMessages: false };
  }

  private failureFrom(error: OpencodeError): Ending {
    if (error.isUnavailable) {
      const seconds = Math.round((Date.now() - this.lastContactAt) / 1000);
      return {
        kind: 'failed',
        code: TurnErrorCode.OPENCODE_UNAVAILABLE,
        message: `OpenCode did not answer for ${seconds} s: ${error.message}`,
        readMessages: false,
      };
    }
    return { kind: 'failed', code: TurnErrorCode.OPENCODE_ERROR, message: error.message, readMessages: false };
  }

  private silentTooLong(): boolean {
    return Date.now() - this.lastContactAt >= this.timings.unavailableAfterMs;
  }

  // ---- timers ----------------------------------------------------------------------------

  private every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    this.timers.add(timer);
  }

  private after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
  }
}

function abortedOutcome(summary: string, filesChanged: string[], usage: TurnOutcome['usage']): TurnOutcome {
  return { status: 'aborted', summary, filesChanged, usage, error: { code: TurnErrorCode.ABORTED, message: 'the turn was aborted' } };
}

/** Nothing is read: the turn has not ended, and its next follower reports it whole. */
function detachedOutcome(): TurnOutcome {
  return { status: 'detached', summary: '', filesChanged: [], usage: { ...ZERO_USAGE } };
}

function failedOutcome(code: TurnErrorCode, message: string): TurnOutcome {
  return { status: 'failed', summary: '', filesChanged: [], usage: { ...ZERO_USAGE }, error: { code, message } };
}

/** "provider/model"; the model part may itself contain slashes (openrouter/anthropic/claude-...). */
export function parseModel(model: string | undefined): { providerID: string; modelID: string } | undefined {
  if (!model) return undefined;
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) throw new Error(`model "${model}" is not of the form provider/model`);
  return { providerID: model.slice(0, slash), modelID: model.slice(slash + 1) };
}

/** Permission metadata kept for the caller: small values only. */
const METADATA_MAX_KEYS = 16;
const METADATA_MAX_STRING = 2_000;
const TITLE_MAX = 300;

function asPermissionRequest(props: Record<string, unknown>): OpencodePermissionRequest | undefined {
  const { id, sessionID, permission, patterns } = props;
  if (typeof id !== 'string' || typeof sessionID !== 'string' || typeof permission !== 'string') return undefined;
  return {
    ...(props as unknown as OpencodePermissionRequest),
    patterns: Array.isArray(patterns) ? patterns.filter((p): p is string => typeof p === 'string') : [],
  };
}

function isPermissionReply(value: unknown): value is TurnPermissionReply {
  return value === 'once' || value === 'always' || value === 'reject';
}

function toTurnPermission(raw: OpencodePermissionRequest, workspace: string): TurnPermissionRequest {
  return {
    requestId: raw.id,
    opencodeSessionId: raw.sessionID,
    permission: raw.permission,
    patterns: raw.patterns ?? [],
    title: permissionTitle(raw, workspace),
    metadata: smallMetadata(raw.metadata ?? {}),
  };
}

/** e.g. "edit src/a.ts", "bash npm test", "webfetch https://…": the permission and what it touches. */
export function permissionTitle(raw: Pick<OpencodePermissionRequest, 'permission' | 'patterns' | 'metadata'>, workspace: string): string {
  const m = raw.metadata ?? {};
  const path = [m.filepath, m.filePath, m.path].find((v): v is string => typeof v === 'string' && v.length > 0);
  const shown =
    (path && workspaceRelative(path, workspace)) ??
    [m.command, m.url].find((v): v is string => typeof v === 'string' && v.length > 0) ??
    (raw.patterns ?? []).join(' ');
  const title = `${raw.permission} ${shown.replace(/\s+/g, ' ')}`.trim();
  return title.length > TITLE_MAX ? `${title.slice(0, TITLE_MAX - 1)}…` : title;
}

function workspaceRelative(path: string, workspace: string): string {
  if (!isAbsolute(path)) return path;
  const inside = relative(workspace, path);
  return inside && !inside.startsWith('..') && !isAbsolute(inside) ? inside : path;
}

function smallMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const small: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    if (Object.keys(small).length >= METADATA_MAX_KEYS) break;
    if (typeof value === 'string') small[key] = value.length > METADATA_MAX_STRING ? `${value.slice(0, METADATA_MAX_STRING)}…` : value;
    else if (typeof value === 'number' || typeof value === 'boolean') small[key] = value;
  }
  return small;
}

function refusalMessage(request: TurnPermissionRequest): string {
  return `permission refused: ${request.title}; OpenCode stopped the turn there`;
}

function sessionIdOf(event: OpencodeEvent): string | undefined {
  const props = event.properties;
  const nested = (props.info ?? props.part) as { sessionID?: unknown } | undefined;
  const id = props.sessionID ?? nested?.sessionID;
  return typeof id === 'string' ? id : undefined;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpencodeError } from '../../client/opencode-error';
import type { SubscribeOptions } from '../../client/opencode-event-stream';
import type { OpencodeHttpClient } from '../../client/opencode-http-client';
import type {
  OpencodeEvent,
  OpencodeMessage,
  OpencodePermissionReply,
  OpencodePermissionRequest,
  OpencodeSessionInfo,
  OpencodeSessionStatus,
} from '../../client/opencode.types';

/** The workspace, turn session, a subagent session and the prompt message the scripted turn uses. */
export const DIR = tmpdir();
export const SESSION = 'ses_turn';
export const CHILD = 'ses_child';
export const MESSAGE = 'msg_0000000000001AAAAAAAAAAAAAA';

export interface ScriptedOpencodeOptions {
  /**
   * What `abort()` does besides counting: `clear-statuses` (default) forgets every session status;
   * `aborted-then-idle` emits the session.error (MessageAbortedError) and idle status OpenCode sends.
   */
  abort?: 'clear-statuses' | 'aborted-then-idle';
}

/**
 * The parts of OpenCode a turn follower talks to, scripted: the test emits events and sets what
 * the polling routes answer; the fake records prompts, permission replies and aborts.
 */
export class ScriptedOpencode {
  listener?: SubscribeOptions;
  statuses: Record<string, OpencodeSessionStatus> = {};
  messageList: OpencodeMessage[] = [];
  pending: OpencodePermissionRequest[] = [];
  parents: Record<string, string | undefined> = {};
  readonly replies: Array<{ requestId: string; reply: OpencodePermissionReply }> = [];
  readonly sessionLookups: string[] = [];
  prompts = 0;
  aborts = 0;
  readonly defaultModel = 'rehearsal/scripted';

  constructor(private readonly options: ScriptedOpencodeOptions = {}) {}

  asClient(): OpencodeHttpClient {
    return this as unknown as OpencodeHttpClient;
  }

  async subscribeShared(options: SubscribeOptions) {
    this.listener = options;
    return { connected: true, reconnects: 0, close: () => (this.listener = undefined) };
  }
  async promptAsync(): Promise<void> {
    this.prompts++;
  }
  async messages(): Promise<OpencodeMessage[]> {
    return this.messageList;
  }
  async sessionStatus(): Promise<Record<string, OpencodeSessionStatus>> {
    return this.statuses;
  }
  async abort(): Promise<boolean> {
    this.aborts++;
    if (this.options.abort === 'aborted-then-idle') {
      this.emit('session.error', { sessionID: SESSION, error: { name: 'MessageAbortedError', data: { message: 'aborted' } } });
      this.emit('session.status', { sessionID: SESSION, status: { type: 'idle' } });
    } else {
      this.statuses = {};
    }
    return true;
  }
  async diff() {
    return [];
  }
  async pendingPermissions(): Promise<OpencodePermissionRequest[]> {
    return this.pending;
  }
  async replyPermission(_directory: string, requestId: string, reply: OpencodePermissionReply): Promise<void> {
    const request = this.pending.find((p) => p.id === requestId);
    if (!request) throw new OpencodeError(`Permission request not found: ${requestId}`, 'PermissionNotFoundError', 404);
    this.replies.push({ requestId, reply });
    this.pending = this.pending.filter((p) => p.id !== requestId);
    this.emit('permission.replied', { sessionID: request.sessionID, requestID: requestId, reply });
  }
  async getSession(_directory: string, id: string): Promise<OpencodeSessionInfo> {
    this.sessionLookups.push(id);
    if (!(id in this.parents)) throw new OpencodeError(`no session ${id}`, 'NotFoundError', 404);
    return { id, title: 't', directory: DIR, parentID: this.parents[id], time: { created: 0, updated: 0 } };
  }

  emit(type: string, properties: Record<string, unknown>): void {
    this.listener?.onEvent({ type, properties, directory: DIR } as OpencodeEvent);
  }

  /** A session's status changes; the turn session's is also what the status route answers. */
  status(status: OpencodeSessionStatus, sessionID = SESSION): void {
    if (sessionID === SESSION) this.statuses = status.type === 'idle' ? {} : { [SESSION]: status };
    this.emit('session.status', { sessionID, status });
  }

  busy(): void {
    this.status({ type: 'busy' });
  }

  /** OpenCode asks: the request is pending and announced. */
  ask(id: string, sessionID = SESSION, extra: Partial<OpencodePermissionRequest> = {}): OpencodePermissionRequest {
    const request: OpencodePermissionRequest = {
      id,
      sessionID,
      permission: 'edit',
      patterns: ['tmp/ws/a.txt'],
      metadata: { filepath: join(DIR, 'a.txt'), diff: 'x'.repeat(5_000), nested: { no: true } },
      always: ['*'],
      ...extra,
    };
    this.pending.push(request);
    this.emit('permission.asked', request as unknown as Record<string, unknown>);
    return request;
  }

  /** The turn ends: its last step finished with `finish`, and the session goes idle. */
  finish(finish: 'stop' | 'tool-calls' = 'stop'): void {
    this.messageList = [
      { info: { id: MESSAGE, sessionID: SESSION, role: 'user', time: { created: 1 } }, parts: [] },
      {
        info: {
          id: 'msg_0000000000002AAAAAAAAAAAAAA',
          sessionID: SESSION,
          role: 'assistant',
          parentID: MESSAGE,
          modelID: 'scripted',
          providerID: 'rehearsal',
          cost: 0,
          tokens: { input: 1, output: 1, reasoning: 0, cache: { read: 0, write: 0 } },
          time: { created: 2, completed: 3 },
          finish,
        },
        parts: [],
      },
    ];
    this.status({ type: 'idle' });
  }
}

/** Resolves when `check` holds (polled every few ms), or fails after a second. */
export async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 1_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

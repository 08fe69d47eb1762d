import type { Readable } from 'node:stream';
import axios, { AxiosInstance, AxiosRequestConfig } from 'axios';
import type { OpencodeEndpointSource } from '../opencode-endpoint';
import { OpencodeError } from './opencode-error';
import { OpencodeEventStream, OpencodeEventSubscription, SubscribeOptions } from './opencode-event-stream';
import { SharedEventHub } from './shared-event-hub';
import type {
  OpencodeFileDiff,
  OpencodeHealth,
  OpencodeMessage,
  OpencodePromptBody,
  OpencodeSessionInfo,
  OpencodeSessionStatus,
} from './opencode.types';

export interface OpencodeHttpClientOptions {
  /** Per-request timeout. Default 15 s (a loaded server answers slowly, see the capacity notes). */
  requestTimeoutMs?: number;
  /** Timeout of the health check. Default 5 s. */
  healthTimeoutMs?: number;
}

const BASIC_AUTH_USER = 'opencode';

/**
 * The OpenCode HTTP API, as far as this orchestrator uses it. Every call is scoped to a
 * directory (OpenCode runs one instance per directory); every failure becomes an OpencodeError.
 */
export class OpencodeHttpClient {
  private readonly http: AxiosInstance;
  private readonly healthTimeoutMs: number;
  private readonly hub: SharedEventHub;

  constructor(
    private readonly server: OpencodeEndpointSource,
    options: OpencodeHttpClientOptions = {},
  ) {
    this.http = axios.create({ timeout: options.requestTimeoutMs ?? 15_000 });
    this.healthTimeoutMs = options.healthTimeoutMs ?? 5_000;
    this.hub = new SharedEventHub((directory, signal) => this.openEventStream(directory, signal));
  }

  get defaultModel(): string | undefined {
    return this.server.defaultModel;
  }

  health(): Promise<OpencodeHealth> {
    return this.request('health check', { method: 'GET', url: '/global/health', timeout: this.healthTimeoutMs });
  }

  createSession(directory: string, options: { title: string }): Promise<OpencodeSessionInfo> {
    // Always with a title: without one OpenCode spends a model call to invent it.
    return this.request('create session', { method: 'POST', url: '/session', data: { title: options.title } }, directory);
  }

  getSession(directory: string, sessionId: string): Promise<OpencodeSessionInfo> {
    return this.request(`get session ${sessionId}`, { method: 'GET', url: `/session/${enc(sessionId)}` }, directory);
  }

  /** Starts a turn and returns at once (204); follow it with events or messages(). */
  async promptAsync(directory: string, sessionId: string, body: OpencodePromptBody): Promise<void> {
    await this.request(
      `prompt session ${sessionId}`,
      { method: 'POST', url: `/session/${enc(sessionId)}/prompt_async`, data: body },
      directory,
    );
  }

  /** Stops the running turn. OpenCode answers true even when nothing ran. */
  abort(directory: string, sessionId: string): Promise<boolean> {
    return this.request(`abort session ${sessionId}`, { method: 'POST', url: `/session/${enc(sessionId)}/abort` }, directory);
  }

  messages(directory: string, sessionId: string): Promise<OpencodeMessage[]> {
    return this.request(`messages of session ${sessionId}`, { method: 'GET', url: `/session/${enc(sessionId)}/message` }, directory);
  }

  /**
   * Busy and retrying sessions of ONE directory (measured: without the directory the list
   * is empty even while a session of another directory is busy). Idle sessions are absent.
   */
  sessionStatus(directory: string): Promise<Record<string, OpencodeSessionStatus>> {
    return this.request('session status', { method: 'GET', url: '/session/status' }, directory);
  }

  /** Files changed by one turn (the user message id). Needs a git work tree; [] otherwise. */
  diff(directory: string, sessionId: string, messageId: string): Promise<OpencodeFileDiff[]> {
    return this.request(
      `diff of session ${sessionId}`,
      { method: 'GET', url: `/session/${enc(sessionId)}/diff`, params: { messageID: messageId } },
      directory,
    );
  }

  /**
   * Subscribes to server-sent events; resolves once the stream is live, so that a caller
   * can subscribe before it prompts (OpenCode replays nothing). Reconnects by itself.
   */
  subscribe(options: SubscribeOptions): Promise<OpencodeEventSubscription> {
    return OpencodeEventStream.subscribe((directory, signal) => this.openEventStream(directory, signal), options);
  }

  /**
   * Like subscribe(), but on the one `/global/event` stream this client shares among all its
   * subscribers: the listener sees every directory's events and must filter by session id.
   */
  subscribeShared(options: SubscribeOptions): Promise<OpencodeEventSubscription> {
    return this.hub.subscribe(options);
  }

  private async openEventStream(directory: string | undefined, signal: AbortSignal): Promise<Readable> {
    const response = await this.http.request<Readable>({
      ...this.target(directory === undefined ? '/global/event' : '/event', directory),
      method: 'GET',
      responseType: 'stream',
      headers: { accept: 'text/event-stream' },
      // No axios timeout: it would cut a healthy long-lived stream; the stream watches heartbeats itself.
      timeout: 0,
      signal,
    });
    return response.data;
  }

  private async request<T>(what: string, config: AxiosRequestConfig, directory?: string): Promise<T> {
    try {
      const response = await this.http.request<T>({ ...config, ...this.target(config.url ?? '/', directory, config.params) });
      return response.data;
    } catch (err) {
      throw OpencodeError.from(err, what);
    }
  }

  private target(path: string, directory?: string, params?: Record<string, unknown>): AxiosRequestConfig {
    const { baseUrl, password } = this.server.endpoint();
    return {
      url: `${baseUrl}${path}`,
      // The query form rather than the x-opencode-directory header: a path may hold non-ASCII characters.
      params: directory === undefined ? params : { ...params, directory },
      auth: password ? { username: BASIC_AUTH_USER, password } : undefined,
    };
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

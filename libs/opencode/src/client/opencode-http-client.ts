import { AsyncResource } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import axios, { AxiosError, AxiosInstance, AxiosRequestConfig, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import type { OpencodeEndpointSource } from '../opencode-endpoint';
import { OpencodeError } from './opencode-error';
import { OpencodeEventStream, OpencodeEventSubscription, SubscribeOptions } from './opencode-event-stream';
import { SharedEventHub } from './shared-event-hub';
import type {
  OpencodeFileDiff,
  OpencodeHealth,
  OpencodeMessage,
  OpencodePermissionReply,
  OpencodePermissionRequest,
  OpencodePromptBody,
  OpencodeSessionInfo,
  OpencodeSessionPermissionRule,
  OpencodeSessionStatus,
} from './opencode.types';

export interface OpencodeHttpClientOptions {
  /** Per-request timeout. Default 15 s (a loaded server answers slowly, see the capacity notes). */
  requestTimeoutMs?: number;
  /** Timeout of the health check. Default 5 s. */
  healthTimeoutMs?: number;
}

const BASIC_AUTH_USER = 'opencode';

/** One finished request, for metrics. */
export interface OpencodeRequestRecord {
  method: string;
  /** The path with ids replaced by :id, e.g. /session/:id/message (see opencodeRouteTemplate). */
  route: string;
  /** The HTTP status; undefined when no answer came. */
  status?: number;
  /** Set when the request failed: an error status (http), no answer (network), or none in time (timeout). */
  error?: 'http' | 'network' | 'timeout';
  durationMs: number;
}

export interface OpencodeRequestObserver {
  /**
   * Once per request that got an answer or failed (the event stream: once its headers came);
   * never for requests this process cancelled. Must be quick and must not throw.
   */
  finished(request: OpencodeRequestRecord): void;
}

const STARTED_AT = '__opencodeStartedAt';
/** OpenCode ids (ses_…, msg_…), UUIDs, numbers: any segment with a digit, or a prefix_ and a long tail. */
const ID_SEGMENT = /\d|^[a-z]{2,5}_[A-Za-z0-9]{8,}$|%/;
/** Segments after /session/ that are not ids. */
const SESSION_WORDS = new Set(['status']);

/**
 * The route template of a request path: ids become `:id`, so that a metric label has a
 * bounded set of values (`/session/ses_4fz…/message` → `/session/:id/message`).
 */
function opencodeRouteTemplate(path: string): string {
  const segments = path.split('?')[0].split('/');
  return segments
    .map((segment, i) => {
      if (!segment) return segment;
      const afterSession = segments[i - 1] === 'session' && i === 2 && !SESSION_WORDS.has(segment);
      return afterSession || ID_SEGMENT.test(segment) ? ':id' : segment;
    })
    .join('/');
}

/** Made at load time, outside any unit of work (see subscribeShared). */
const DETACHED = new AsyncResource('OpencodeSharedEventStream');

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

  /** `permission`: the session's ruleset, evaluated after every agent and config rule (the ceiling). */
  createSession(directory: string, options: { title: string; permission?: OpencodeSessionPermissionRule[] }): Promise<OpencodeSessionInfo> {
    // Always with a title: without one OpenCode spends a model call to invent it.
    const data = { title: options.title, ...(options.permission ? { permission: options.permission } : {}) };
    return this.request('create session', { method: 'POST', url: '/session', data }, directory);
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

  /** Permission requests waiting for an answer in one directory (measured: without it the list is empty). */
  pendingPermissions(directory: string): Promise<OpencodePermissionRequest[]> {
    return this.request('pending permissions', { method: 'GET', url: '/permission' }, directory);
  }

  /** Answers a permission request; an OpencodeError with status 404 when it is no longer pending. */
  async replyPermission(directory: string, requestId: string, reply: OpencodePermissionReply): Promise<void> {
    await this.request(
      `reply to permission ${requestId}`,
      { method: 'POST', url: `/permission/${enc(requestId)}/reply`, data: { reply } },
      directory,
    );
  }

  /**
   * Frees the server's instance of one directory (its project state, watchers and caches, 50-100 MB
   * each, measured on 1.18.33); the next request for that directory builds it again.
   */
  disposeInstance(directory: string): Promise<boolean> {
    return this.request('dispose the instance', { method: 'POST', url: '/instance/dispose' }, directory);
  }

  /**
   * Subscribes to server-sent events; resolves once the stream is live, so that a caller
   * can subscribe before it prompts (OpenCode replays nothing). Reconnects by itself.
   */
  subscribe(options: SubscribeOptions): Promise<OpencodeEventSubscription> {
    return OpencodeEventStream.subscribe((directory, signal) => this.openEventStream(directory, signal), options);
  }

  /** Times the shared event stream had to reconnect to this server (a probe of its health). */
  get eventStreamReconnects(): number {
    return this.hub.reconnects;
  }

  /**
   * Like subscribe(), but on the one `/global/event` stream this client shares among all its
   * subscribers: the listener sees every directory's events and must filter by session id.
   */
  subscribeShared(options: SubscribeOptions): Promise<OpencodeEventSubscription> {
    // The first subscriber opens the stream that then serves every run of the process: opened in
    // no caller's async context, so that its callbacks do not log with that caller's correlation id.
    return DETACHED.runInAsyncScope(() => this.hub.subscribe(options));
  }

  /** Tells `observer` about every request of this client (axios interceptors). Returns the undo. */
  observe(observer: OpencodeRequestObserver): () => void {
    const stamp = (config: InternalAxiosRequestConfig) => {
      (config as unknown as Record<string, number>)[STARTED_AT] = performance.now();
      return config;
    };
    const report = (config: AxiosRequestConfig | undefined, status: number | undefined, error?: OpencodeRequestRecord['error']) => {
      const startedAt = (config as Record<string, number> | undefined)?.[STARTED_AT];
      if (!config || startedAt === undefined) return;
      try {
        observer.finished({
          method: (config.method ?? 'get').toUpperCase(),
          route: opencodeRouteTemplate(pathOf(config.url ?? '/')),
          status,
          error,
          durationMs: performance.now() - startedAt,
        });
      } catch {
        // Metrics must never fail a request.
      }
    };
    const onRequest = this.http.interceptors.request.use(stamp);
    const onResponse = this.http.interceptors.response.use(
      (response: AxiosResponse) => {
        report(response.config, response.status);
        return response;
      },
      (err: unknown) => {
        if (err instanceof AxiosError && err.code !== AxiosError.ERR_CANCELED) {
          const status = err.response?.status;
          const kind = status !== undefined ? 'http' : err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT' ? 'timeout' : 'network';
          report(err.config, status, kind);
        }
        return Promise.reject(err);
      },
    );
    return () => {
      this.http.interceptors.request.eject(onRequest);
      this.http.interceptors.response.eject(onResponse);
    };
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

function pathOf(url: string): string {
  try {
    return new URL(url, 'http://opencode').pathname;
  } catch {
    return '/';
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

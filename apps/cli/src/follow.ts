import { setTimeout as sleep } from 'node:timers/promises';
import { ApiClient, ApiError, apiErrorFrom, connectionError } from './api-client';
import { openSse, readSse } from './sse';
import { isFinal, SessionView, StreamEnvelope, TransitionRecord } from './views';

export interface FollowOptions {
  /** Called with every event in order (stream events, or events made from polls). */
  onEvent(event: StreamEnvelope): void;
  /**
   * Called once the follower listens (the stream's first event arrived, or before the first
   * poll): `run` starts its session here, so that no transition is missed.
   */
  onListening?(): Promise<void>;
  /** Aborting stops following; followSession then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Polling fallback interval (default 1 s). */
  pollIntervalMs?: number;
  /** How long to keep reconnecting a stream that broke before its end (default 30 s). */
  reconnectForMs?: number;
  /** Told when following falls back to polling, and why. */
  onFallback?(reason: string): void;
}

/** The final state of a followed session: what its last transition (or GET) said. */
export type FinalSession = Pick<SessionView, 'id' | 'status' | 'attempt' | 'result' | 'usage' | 'error' | 'startedAt' | 'finishedAt'>;

/**
 * Follows one session to a final status: over its server-sent event stream when the server has
 * one (GET /api/v1/sessions/:id/stream), reconnecting if the stream breaks before its end;
 * polling GET /api/v1/sessions/:id and its history every second when the server has no stream
 * route (a 404 that is not SESSION_NOT_FOUND).
 */
export async function followSession(api: ApiClient, id: string, options: FollowOptions): Promise<FinalSession> {
  let listening = false;
  const listen = async () => {
    if (listening) return;
    listening = true;
    await options.onListening?.();
  };
  let lastContact = Date.now();
  let connectedOnce = false;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    let response;
    try {
      response = await openSse(`${api.options.url}/api/v1/sessions/${encodeURIComponent(id)}/stream`, api.authHeaders(), options.signal);
    } catch (err) {
      options.signal?.throwIfAborted();
      // Unreachable at first: say so at once. Once followed, the server may be restarting: retry a while.
      if (!connectedOnce || Date.now() - lastContact > (options.reconnectForMs ?? 30_000)) throw connectionError(err, api.options.url);
      await sleep(Math.min(5_000, 500 * 2 ** Math.min(attempt, 4)), undefined, { signal: options.signal });
      continue;
    }
    if (response.kind === 'http') {
      const error = apiErrorFrom(response.status, response.body, 'the session stream');
      if (response.status === 404 && error.code !== 'SESSION_NOT_FOUND') {
        options.onFallback?.('the server has no session stream; polling every second');
        return pollSession(api, id, { ...options, onListening: listening ? undefined : options.onListening });
      }
      if (response.status === 204) return finalFromGet(api, id, options);
      throw error;
    }
    connectedOnce = true;
    lastContact = Date.now();
    let final: FinalSession | undefined;
    let listenError: unknown;
    const stream = response.response;
    const closeOnAbort = () => stream.destroy();
    options.signal?.addEventListener('abort', closeOnAbort, { once: true });
    try {
      await readSse(stream, {
        onEvent: (message) => {
          lastContact = Date.now();
          const event = JSON.parse(message.data) as StreamEnvelope;
          options.onEvent(event);
          if (event.type === 'snapshot' && isFinal(String(event.data.status))) final = event.data as FinalSession;
          if (event.type === 'transition' && isFinal(String(event.data.to))) final = (event.data.session ?? { id, status: event.data.to }) as FinalSession;
          if (!listening) {
            listen().catch((err) => {
              listenError = err;
              stream.destroy();
            });
          }
        },
        onComment: () => (lastContact = Date.now()),
      });
    } catch {
      // The stream broke: reconnect below (a new snapshot says where the session got to).
    } finally {
      options.signal?.removeEventListener('abort', closeOnAbort);
    }
    options.signal?.throwIfAborted();
    if (listenError) throw listenError;
    if (final) return final;
    if (Date.now() - lastContact > (options.reconnectForMs ?? 30_000)) {
      throw new ApiError(0, 'STREAM_LOST', `the session stream ended before the session did and did not come back within ${Math.round((options.reconnectForMs ?? 30_000) / 1000)}s`);
    }
    await sleep(Math.min(5_000, 250 * 2 ** Math.min(attempt, 4)), undefined, { signal: options.signal });
  }
}

async function finalFromGet(api: ApiClient, id: string, options: FollowOptions): Promise<FinalSession> {
  const s = await api.get<SessionView>(`/api/v1/sessions/${encodeURIComponent(id)}`);
  options.onEvent({ sessionId: id, type: 'snapshot', seq: s.version, at: new Date().toISOString(), data: s as unknown as Record<string, unknown> });
  return s;
}

/**
 * The fallback: the session and its transition history every second. The first read is shown as
 * a snapshot (like the stream's late join); later transitions as transition events.
 */
async function pollSession(api: ApiClient, id: string, options: FollowOptions): Promise<FinalSession> {
  const path = `/api/v1/sessions/${encodeURIComponent(id)}`;
  let seen = -1;
  let finalReads = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    // History first: the session read after it is at least as new, so a final transition in the
    // history always comes with its final session.
    const history = await api.get<TransitionRecord[]>(`${path}/events`);
    const session = await api.get<SessionView>(path);
    if (seen === -1) {
      options.onEvent({ sessionId: id, type: 'snapshot', seq: session.version, at: new Date().toISOString(), data: session as unknown as Record<string, unknown> });
      seen = history.length;
      if (isFinal(session.status)) return session;
      await options.onListening?.();
    } else {
      for (const h of history.slice(seen)) {
        const last = h === history[history.length - 1];
        options.onEvent({
          sessionId: id,
          type: 'transition',
          at: h.at,
          data: { from: h.from, to: h.to, reason: h.reason, attempt: h.attempt, session: last && h.to === session.status ? session : { status: h.to } },
        });
      }
      seen = Math.max(seen, history.length);
      const last = history[history.length - 1];
      if (isFinal(session.status)) {
        if (last?.to === session.status) return session;
        // The history lags the row (it should not: same transaction); do not wait for ever.
        if (++finalReads >= 3) return session;
      }
    }
    await sleep(options.pollIntervalMs ?? 1_000, undefined, { signal: options.signal });
  }
}

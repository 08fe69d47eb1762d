import { Inject, Injectable } from '@nestjs/common';
import type { TurnAbortReason } from '../domain/turn-outcome';
import { RUN_HEARTBEAT, RunHeartbeatPort } from './ports/run-heartbeat.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';

/** How often a worker beats for its running sessions and looks for cancel requests whose signal was lost. */
export const WATCH_INTERVAL_MS = 3_000;
/** A running session's heartbeat outlives a few missed beats (Redis blips, a busy event loop). */
export const HEARTBEAT_TTL_MS = 4 * WATCH_INTERVAL_MS;

/** Stops watching a session (call it once its run, or its wait, is over). */
export type Unwatch = () => void;

/**
 * The sessions this process runs, or holds QUEUED while they wait for their workspace: while
 * there are any, one heartbeat for all of them every few seconds (so that recovery knows a live
 * worker has them), and one query for cancel requests whose signal was lost. A cancel request,
 * signalled or found, aborts the session's controller here; only the process that has the session acts.
 */
@Injectable()
export class RunWatcher {
  private readonly running = new Map<string, AbortController>();
  private readonly waiting = new Map<string, AbortController>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(RUN_HEARTBEAT) private readonly heartbeat: RunHeartbeatPort,
  ) {}

  /** A session whose turn this process follows: a cancel request aborts `turn` with 'cancel'. */
  watchRun(sessionId: string, turn: AbortController): Unwatch {
    return this.watch(this.running, sessionId, turn);
  }

  /** A session this process holds QUEUED while it waits for its workspace lock: a cancel request aborts `wait`. */
  watchWait(sessionId: string, wait: AbortController): Unwatch {
    return this.watch(this.waiting, sessionId, wait);
  }

  /** Called for every cancel signal; acts only on sessions this process runs or holds. */
  onCancelRequested(sessionId: string): void {
    this.running.get(sessionId)?.abort('cancel' satisfies TurnAbortReason);
    this.waiting.get(sessionId)?.abort('the session was cancelled or settled while it waited');
  }

  /** Sessions whose turn this process follows. */
  get activeSessionIds(): string[] {
    return [...this.running.keys()];
  }

  /** Sessions waiting QUEUED in this process for their workspace lock. */
  get waitingSessionIds(): string[] {
    return [...this.waiting.keys()];
  }

  private watch(registry: Map<string, AbortController>, sessionId: string, controller: AbortController): Unwatch {
    registry.set(sessionId, controller);
    this.ensureTicking();
    void this.heartbeat.beat([sessionId], HEARTBEAT_TTL_MS).catch(() => undefined);
    return () => registry.delete(sessionId);
  }

  private ensureTicking(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running.size === 0 && this.waiting.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const ids = [...new Set([...this.running.keys(), ...this.waiting.keys()])];
    await this.heartbeat.beat(ids, HEARTBEAT_TTL_MS).catch(() => undefined);
    const toStop = await this.sessions.findToStop(ids).catch(() => []);
    for (const id of toStop) this.onCancelRequested(id);
  }
}

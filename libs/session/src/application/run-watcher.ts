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

/** A QUEUED session whose run gave its worker back while it keeps its place in a lock's queue. */
interface WaitingPlace {
  leave: () => Promise<void>;
  /** When its place lapses unless its run comes back (then it is forgotten here). */
  until: number;
}

/**
 * The sessions this process runs, and those whose run it parked in a lock's queue (the run gave
 * its worker back while it waits for its workspace or a worktree slot). While there are any: one
 * heartbeat every few seconds for the running ones (so that recovery knows a live worker has them;
 * a waiting one has its delayed job instead), and one query for cancel requests whose signal was
 * lost. A cancel request, signalled or found, aborts a running session's turn, or gives a waiting
 * session's place up; only the process that has the session acts.
 */
@Injectable()
export class RunWatcher {
  private readonly running = new Map<string, AbortController>();
  private readonly waiting = new Map<string, WaitingPlace>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(RUN_HEARTBEAT) private readonly heartbeat: RunHeartbeatPort,
  ) {}

  /** A session whose turn this process follows: a cancel request aborts `turn` with 'cancel'. */
  watchRun(sessionId: string, turn: AbortController): Unwatch {
    return this.watch(this.running, sessionId, turn);
  }

  /**
   * A QUEUED session whose run this process parked in a lock's queue: a cancel request, or the row
   * found settled or deleted, calls `leave` (its place is given up). Forgotten after `forMs` (the
   * place's lifetime), or once its run is back (watchPlace again, or unwatchPlace).
   */
  watchPlace(sessionId: string, leave: () => Promise<void>, forMs: number): void {
    this.waiting.set(sessionId, { leave, until: Date.now() + forMs });
    this.ensureTicking();
  }

  /** The session's run is back: it took its place, or gave it up itself. */
  unwatchPlace(sessionId: string): void {
    this.waiting.delete(sessionId);
  }

  /** Called for every cancel signal; acts only on sessions this process runs or parked. */
  onCancelRequested(sessionId: string): void {
    this.running.get(sessionId)?.abort('cancel' satisfies TurnAbortReason);
    const place = this.waiting.get(sessionId);
    if (!place) return;
    this.waiting.delete(sessionId);
    void place.leave().catch(() => undefined);
  }

  /** Sessions whose turn this process follows. */
  get activeSessionIds(): string[] {
    return [...this.running.keys()];
  }

  /** QUEUED sessions whose run this process parked in a lock's queue. */
  get waitingSessionIds(): string[] {
    return [...this.waiting.keys()];
  }

  private watch(registry: Map<string, AbortController>, sessionId: string, controller: AbortController): Unwatch {
    registry.set(sessionId, controller);
    this.ensureTicking();
    void this.heartbeat.beat([sessionId], HEARTBEAT_TTL_MS).catch(() => undefined);
    return () => {
      if (registry.get(sessionId) === controller) registry.delete(sessionId);
    };
  }

  private ensureTicking(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    for (const [id, place] of this.waiting) if (place.until <= now) this.waiting.delete(id);
    if (this.running.size === 0 && this.waiting.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const running = [...this.running.keys()];
    if (running.length) await this.heartbeat.beat(running, HEARTBEAT_TTL_MS).catch(() => undefined);
    const ids = [...new Set([...running, ...this.waiting.keys()])];
    const toStop = await this.sessions.findToStop(ids).catch(() => []);
    for (const id of toStop) this.onCancelRequested(id);
  }
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LOCK_PORT, LockPort, ParkOutcome } from '@app/locking';
import { WORKSPACE_PORT, WorkspacePort, workspaceLockResource } from '@app/workspace';
import { Session } from '../../domain/session';

/**
 * A run's workspace lease, renewed every third of it while the run lives. It outlives the time
 * BullMQ takes to hand a dead worker's job to another worker (2 x WORKER_LEASE_SECONDS), so the
 * resuming run takes the lease over (reclaim) before a waiting session could get the workspace
 * while the dead worker's OpenCode turn may still be writing there.
 */
export function workspaceLockTtlMs(workerLeaseSeconds: number): number {
  return Math.max(30_000, 3 * workerLeaseSeconds * 1000);
}

/**
 * A waiting session's place in the queue of its workspace (or worktree slot) lock is kept this
 * long between two tries; its run comes back every few seconds at most (placeRetryMs), later only
 * when every worker slot is busy (then it queues again at the back).
 */
export const PLACE_KEPT_MS = 60_000;
/**
 * The lock handed to a waiting session's place is kept this long for its run to come and take it
 * (the run's delayed job is woken at once): a place whose session went away holds its workspace no
 * longer than this.
 */
export const PLACE_CLAIM_MS = 15_000;
const FIRST_RETRY_MS = 500;
const LAST_RETRY_MS = 5_000;

/**
 * When a run that found its place busy tries again: 0.5 s at first, growing with the wait to 5 s,
 * jittered (±25%) so that waiting runs do not all come back at once. Only a fallback: a run is
 * woken as soon as the lock is handed to its place.
 */
export function placeRetryMs(waitedMs: number, random: () => number = Math.random): number {
  const base = Math.min(LAST_RETRY_MS, Math.max(FIRST_RETRY_MS, waitedMs / 4));
  return Math.round(base * (0.75 + 0.5 * random()));
}

/** The lock owner of every run of a session: a later run (resumed, retried) takes over what an earlier one still holds. */
export function sessionLockOwner(sessionId: string): string {
  return `session:${sessionId}`;
}

/** held: the run may start. busy: others hold `resource`, and the session's place in its queue is kept. */
/** How long the session has waited for its place so far (0 on its first try), for the lock wait metric. */
export function waitedFor(session: Session, now = Date.now()): number {
  const since = session.snapshot().waitingSince;
  return since ? Math.max(0, now - since.getTime()) : 0;
}

export type PlaceOutcome = { kind: 'held'; lease: Lease; slot?: string } | { kind: 'busy'; resource: string };

/**
 * One session at a time per workspace: a run holds its workspace's lock from claim to outcome.
 * A run never waits for it: it takes it, or keeps its place in the lock's FIFO queue and gives its
 * worker back (the lock is handed to the place in turn, and the run is woken to take it).
 */
@Injectable()
export class WorkspaceLock {
  private readonly logger = new Logger(WorkspaceLock.name);

  constructor(
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    private readonly config: AppConfig,
  ) {}

  /**
   * The session's workspace lock, when it is free and nobody queued before this session, or
   * handed to its place, or still held by an earlier run of this session (a lost worker's, or the
   * previous attempt's): taken over with a new fence. Otherwise busy, its place kept. An
   * unreachable Redis throws, so that the job is retried.
   */
  async take(session: Session): Promise<PlaceOutcome> {
    const resource = await this.resourceOf(session);
    const parked: ParkOutcome = await this.locks.park(resource, {
      owner: sessionLockOwner(session.id),
      ttlMs: workspaceLockTtlMs(this.config.workerLeaseSeconds),
      placeMs: PLACE_KEPT_MS,
      claimMs: PLACE_CLAIM_MS,
      waitedMs: waitedFor(session),
    });
    return parked.kind === 'held' ? { kind: 'held', lease: parked.lease } : { kind: 'busy', resource };
  }

  /** Gives up the session's place (it timed out, or was cancelled or deleted while it waited). Best effort. */
  async leave(session: Session): Promise<void> {
    const resource = await this.resourceOf(session).catch(() => null);
    if (resource) await this.locks.unpark(resource, sessionLockOwner(session.id)).catch(() => undefined);
  }

  /**
   * Calls `listener` with the session id whenever a lock (a workspace's or a worktree slot's) is
   * handed to the place of a session this process parked. Returns the function that stops it.
   */
  onPlaceReady(listener: (sessionId: string) => void): () => void {
    const prefix = sessionLockOwner('');
    return this.locks.onParkedGrant((_resource, owner) => {
      if (owner.startsWith(prefix)) listener(owner.slice(prefix.length));
    });
  }

  /** Best effort: a lease that cannot be released expires on its own. */
  async release(lease: Lease): Promise<void> {
    await this.locks
      .release(lease)
      .catch((err: Error) => this.logger.warn(`Could not release ${lease.resource} (it expires on its own): ${err.message}`));
  }

  private async resourceOf(session: Session): Promise<string> {
    return workspaceLockResource(await this.workspaces.canonical(session.snapshot().workspace));
  }
}

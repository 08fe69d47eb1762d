import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Lease, LOCK_PORT, LockError, LockErrorCode, LockPort } from '@app/locking';
import { WORKSPACE_PORT, WorkspacePort, workspaceLockResource } from '@app/workspace';
import { Session } from '../../domain/session';
import { SessionStatus } from '../../domain/session-status';

/**
 * A run's workspace lease, renewed every third of it while the run lives. It outlives the time
 * BullMQ takes to hand a dead worker's job to another worker (2 x WORKER_LEASE_SECONDS), so the
 * resuming run takes the lease over (reclaim) before a waiting session could get the workspace
 * while the dead worker's OpenCode turn may still be writing there.
 */
export function workspaceLockTtlMs(workerLeaseSeconds: number): number {
  return Math.max(30_000, 3 * workerLeaseSeconds * 1000);
}

/** held: the run may start. busy: other sessions held `resource` for the session's whole timeout. abandoned: the wait was aborted. */
export type WorkspaceLockOutcome =
  | { kind: 'held'; lease: Lease }
  | { kind: 'busy'; resource: string }
  | { kind: 'abandoned' };

/** One session at a time per workspace: a run holds its workspace's lock from claim to outcome. */
@Injectable()
export class WorkspaceLock {
  private readonly logger = new Logger(WorkspaceLock.name);

  constructor(
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    private readonly config: AppConfig,
  ) {}

  /**
   * Waits, in arrival order, until no other session runs in the session's workspace, for at most
   * the session's timeout. A RUNNING session (resumed after its worker was lost) takes over the
   * lease that worker still holds. Aborting `signal` abandons the wait; an abort for any other
   * reason (the process shutting down) and an unreachable Redis throw, so that the job is retried.
   */
  async acquire(session: Session, signal: AbortSignal): Promise<WorkspaceLockOutcome> {
    const { workspace, timeoutSeconds } = session.snapshot();
    const resource = workspaceLockResource(await this.workspaces.canonical(workspace));
    try {
      const lease = await this.locks.acquire(resource, {
        owner: `session:${session.id}`,
        ttlMs: workspaceLockTtlMs(this.config.workerLeaseSeconds),
        waitTimeoutMs: timeoutSeconds * 1000,
        signal,
        reclaim: session.status === SessionStatus.RUNNING,
      });
      return { kind: 'held', lease };
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
      if (err.code === LockErrorCode.LOCK_ABORTED && signal.aborted) return { kind: 'abandoned' };
      if (err.code === LockErrorCode.LOCK_TIMEOUT) return { kind: 'busy', resource };
      throw err;
    }
  }

  /** Best effort: a lease that cannot be released expires on its own. */
  async release(lease: Lease): Promise<void> {
    await this.locks
      .release(lease)
      .catch((err: Error) => this.logger.warn(`Could not release ${lease.resource} (it expires on its own): ${err.message}`));
  }
}

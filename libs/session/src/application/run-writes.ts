import { Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { DatabaseWait } from './database-wait';
import { SessionRunJob } from './ports/session-queue.port';
import { SessionRepositoryPort } from './ports/session.repository.port';
import { retryOnConflict } from './retry-on-conflict';

/** How many times a change of the run is retried after concurrent edits of the session. */
const MAX_CONFLICT_RETRIES = 8;

/**
 * The writes a run makes to its session: each version-checked, reapplied after a concurrent edit,
 * and waiting while the database is out of reach (DatabaseWait) rather than failing the job.
 */
export class RunWrites {
  constructor(
    private readonly sessions: SessionRepositoryPort,
    private readonly config: AppConfig,
    private readonly databaseWait: DatabaseWait | null,
    private readonly logger: Logger,
  ) {}

  /**
   * Applies a change to this attempt while it is RUNNING (or `expected`) and writes it
   * version-checked. The first try uses the copy in hand; after a concurrent edit it reloads and
   * reapplies. While the database is out of reach it waits (see whileDatabaseAway), and then
   * reloads too: the copy in hand may hold the change already. Returns the written session, or
   * null when the attempt is no longer as expected.
   */
  mutate(job: SessionRunJob, inHand: Session | null, change: (s: Session) => void, expected = SessionStatus.RUNNING): Promise<Session | null> {
    const write = (copy: Session | null) =>
      retryOnConflict(
        MAX_CONFLICT_RETRIES,
        async (attempt) => {
          const session = (attempt === 1 ? copy : null) ?? (await this.sessions.findById(job.sessionId, { includeDeleted: true }));
          if (!session || session.attempt !== job.attempt || session.status !== expected) return null;
          change(session);
          await this.sessions.update(session);
          return session;
        },
        () => new Error(`session ${job.sessionId}: too many concurrent changes while recording its run`),
      );
    return this.whileDatabaseAway(job, inHand, 'the state of its run', (tryNumber) => write(tryNumber === 1 ? inHand : null));
  }

  /** QUEUED → RUNNING (in `slot` when it has one), or picks up a RUNNING session whose worker was lost. */
  claim(job: SessionRunJob, slot?: string): Promise<{ session: Session; resume: boolean } | null> {
    const claim = () =>
      retryOnConflict(
        MAX_CONFLICT_RETRIES,
        async () => {
          const session = await this.sessions.findById(job.sessionId);
          if (!session || session.attempt !== job.attempt) return null; // deleted or superseded by a retry
          if (session.status === SessionStatus.RUNNING) {
            this.logger.warn(`Resuming session ${session.id} (attempt ${job.attempt}): its previous worker was lost or handed it over`);
            if (slot && session.worktree?.slot !== slot) {
              session.useSlot(slot);
              await this.sessions.update(session);
            }
            return { session, resume: true };
          }
          if (session.status !== SessionStatus.QUEUED) return null; // finished or cancelled meanwhile
          session.markRunning();
          if (slot) session.useSlot(slot);
          await this.sessions.update(session);
          return { session, resume: false };
        },
        () => new Error(`session ${job.sessionId}: too many concurrent changes while claiming it`),
      );
    return this.whileDatabaseAway(job, null, 'that it runs', claim);
  }

  /**
   * Runs `write`, and again while it fails because the database is out of reach, for up to the
   * session's timeout (DatabaseWait), so that an outage does not spend the job's few retries nor
   * lose the outcome of a turn OpenCode finished. Without a DatabaseWait: once.
   */
  private whileDatabaseAway<T>(job: SessionRunJob, session: Session | null, what: string, write: (tryNumber: number) => Promise<T>): Promise<T> {
    if (!this.databaseWait) return write(1);
    const timeoutSeconds = session?.snapshot().timeoutSeconds ?? this.config.sessionTimeoutSeconds;
    return this.databaseWait.write(job.sessionId, what, timeoutSeconds, write);
  }
}

import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { inRetentionBatches, retentionCutoff } from '@app/shared';
import { SESSION_RETENTION_METRICS, SessionRetentionMetricsPort } from './ports/retention-metrics.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';

/** The most batches one run prunes; what is left waits for the next run. */
export const SESSION_RETENTION_MAX_BATCHES = 100;

export interface SessionRetentionReport {
  /** Sessions that finished before this were due; null: retention is off (RETENTION_DAYS=0). */
  cutoff: Date | null;
  /** Sessions whose output text was emptied by this run. */
  sessionOutputs: number;
  /** False when the run stopped at its batch cap or at shutdown with work left. */
  complete: boolean;
}

/**
 * Retention of finished sessions (README, Retention): RETENTION_DAYS after a session finished,
 * its output text (the turn's final answer, result.summary) is emptied and the session marked
 * pruned. The session itself stays for good: its status, error, usage, files changed, prompt and
 * every transition of its history. In batches of RETENTION_BATCH_SIZE, each one short statement,
 * up to SESSION_RETENTION_MAX_BATCHES per run.
 */
@Injectable()
export class SessionRetentionService {
  private readonly logger = new Logger(SessionRetentionService.name);

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    private readonly config: AppConfig,
    @Optional() @Inject(SESSION_RETENTION_METRICS) private readonly metrics?: SessionRetentionMetricsPort,
  ) {}

  /** One run; `signal` stops it between two batches (the process shuts down). */
  async prune(now = new Date(), signal?: AbortSignal): Promise<SessionRetentionReport> {
    const { days, batchSize } = this.config.retention;
    if (days === 0) return { cutoff: null, sessionOutputs: 0, complete: true };
    const cutoff = retentionCutoff(now, days);
    let sessionOutputs = 0;
    const complete = await inRetentionBatches(
      async () => {
        const pruned = await this.sessions.pruneFinished(cutoff, batchSize, now);
        sessionOutputs += pruned;
        this.metrics?.pruned('session_outputs', pruned);
        return pruned;
      },
      { batchSize, maxBatches: SESSION_RETENTION_MAX_BATCHES, signal },
    );
    this.logger.log(
      `Retention: emptied the output text of ${sessionOutputs} session(s) finished before ${cutoff.toISOString()}` +
        (complete ? '' : '; more are due, the next run goes on'),
    );
    return { cutoff, sessionOutputs, complete };
  }
}

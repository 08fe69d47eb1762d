import { InjectQueue } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { currentCorrelationId } from '@app/observability';
import { RunJobState, SessionQueuePort, SessionRunJob } from '../../application/ports/session-queue.port';

export const SESSION_RUN_QUEUE = 'session-runs';
const SESSION_RUN_JOB = 'run-session';
/** How long wake() waits for an active job to be delayed: WAKE_TRIES x WAKE_RETRY_MS. */
const WAKE_TRIES = 10;
const WAKE_RETRY_MS = 100;

/** One job per (session, attempt): BullMQ ignores an add whose job id already exists. */
function runJobId(job: SessionRunJob): string {
  return `${job.sessionId}.${job.attempt}`;
}

@Injectable()
export class BullmqSessionQueue implements SessionQueuePort {
  constructor(@InjectQueue(SESSION_RUN_QUEUE) private readonly queue: Queue<SessionRunJob>) {}

  async enqueue(job: SessionRunJob, options: { ahead?: boolean } = {}): Promise<void> {
    // The request being served (if any) travels with the job, for the worker's logs.
    const correlationId = job.correlationId ?? currentCorrelationId();
    await this.queue.add(SESSION_RUN_JOB, correlationId ? { ...job, correlationId } : job, {
      jobId: runJobId(job),
      // At the head of the wait list instead of its tail.
      lifo: options.ahead === true,
      // A job that throws (e.g. the database was restarting) runs again; the run is idempotent.
      attempts: 5,
      backoff: { type: 'exponential', delay: 1000 },
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async wake(job: SessionRunJob): Promise<void> {
    const found = await this.queue.getJob(runJobId(job));
    if (!found) return;
    // A run that is just giving its worker back is still active for a few ms: wait for its delay.
    for (let tries = 0; tries < WAKE_TRIES; tries++) {
      const state = await found.getState();
      // Promoting a job that just left the delayed set (it ran meanwhile) fails harmlessly.
      if (state === 'delayed') return void (await found.promote().catch(() => undefined));
      if (state !== 'active') return;
      await new Promise((resolve) => setTimeout(resolve, WAKE_RETRY_MS));
    }
  }

  async remove(job: SessionRunJob): Promise<void> {
    const found = await this.queue.getJob(runJobId(job));
    if (!found) return;
    const state = await found.getState();
    // An active job is locked by its worker; it will see the new status and stop.
    if (state !== 'active') await found.remove().catch(() => undefined);
  }

  async state(job: SessionRunJob): Promise<RunJobState> {
    const found = await this.queue.getJob(runJobId(job));
    if (!found) return 'missing';
    const state = await found.getState();
    if (state === 'waiting-children' || state === 'prioritized' || state === 'waiting') return 'waiting';
    if (state === 'unknown') return 'missing';
    return state;
  }
}

import { Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Job, Queue, Worker } from 'bullmq';

/** The BullMQ queue of the periodic maintenance jobs (retention, ...); kept apart from the session runs and their global concurrency. */
export const MAINTENANCE_QUEUE = 'maintenance';

/** Finished maintenance jobs kept for the job dashboard, per state. */
const KEEP_FINISHED_JOBS = 50;

/** A periodic job of a context, run by one worker at a time. */
export interface MaintenanceJob {
  /** The job scheduler's fixed id and the jobs' name: one schedule per name, however many workers register it. */
  name: string;
  /** How often it runs (the first run right after a worker starts); null: never (a schedule an earlier start left is removed). */
  everyMs: number | null;
  /** One run. `signal` is aborted when the process shuts down: the run stops at its next safe point. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * Periodic jobs on one BullMQ queue: each registered job gets a job scheduler with a fixed id, so
 * however many worker processes register it, one job is due per interval and one worker takes
 * it. Contexts register their jobs while their modules initialise (onModuleInit); the schedules
 * and the queue's worker (one job at a time per process) start once the application has
 * bootstrapped. A process that registers nothing (the API alone) opens nothing. Every worker
 * process registers the same jobs (the same modules): a run taken by a process that does not
 * know the job (an older version during a deploy) is skipped, and the next interval runs it.
 */
@Injectable()
export class MaintenanceJobs implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(MaintenanceJobs.name);
  private readonly jobs = new Map<string, MaintenanceJob>();
  private readonly stopping = new AbortController();
  private queue?: Queue;
  private worker?: Worker;
  private started = false;
  /** Resolves once every schedule is written (or its failure logged): bootstrap does not wait for it. */
  scheduled: Promise<void> = Promise.resolve();

  constructor(private readonly config: AppConfig) {}

  register(job: MaintenanceJob): void {
    if (this.started) throw new Error(`Maintenance job ${job.name} registered after the application bootstrapped`);
    if (this.jobs.has(job.name)) throw new Error(`Maintenance job ${job.name} is registered twice`);
    if (job.everyMs !== null && !(job.everyMs >= 1000)) throw new Error(`Maintenance job ${job.name}: everyMs must be at least 1000`);
    this.jobs.set(job.name, job);
  }

  onApplicationBootstrap(): void {
    this.started = true;
    if (this.jobs.size === 0) return;
    const { redis, queuePrefix } = this.config;
    const connection = { host: redis.host, port: redis.port, password: redis.password, maxRetriesPerRequest: null };
    this.queue = new Queue(MAINTENANCE_QUEUE, { connection, prefix: queuePrefix });
    this.queue.on('error', (err) => this.logger.warn(`Maintenance queue: ${err.message}`));
    // In the background: a Redis that is still coming up must not hold the start. A schedule that
    // cannot be written stays as an earlier start wrote it.
    this.scheduled = Promise.all(
      [...this.jobs.values()].map((job) => this.schedule(job).catch((err: Error) => this.logger.warn(`Maintenance job ${job.name} not scheduled: ${err.message}`))),
    ).then(() => undefined);
    if (![...this.jobs.values()].some((job) => job.everyMs !== null)) return;
    this.worker = new Worker(MAINTENANCE_QUEUE, (job) => this.runJob(job), { connection, prefix: queuePrefix, concurrency: 1 });
    this.worker.on('error', (err) => this.logger.warn(`Maintenance worker: ${err.message}`));
    this.worker.on('failed', (job, err) => this.logger.warn(`Maintenance job ${job?.name ?? '?'} failed: ${err.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.worker?.close();
    await this.queue?.close();
  }

  private async schedule(job: MaintenanceJob): Promise<void> {
    if (job.everyMs === null) {
      await this.queue!.removeJobScheduler(job.name);
      return;
    }
    await this.queue!.upsertJobScheduler(
      job.name,
      { every: job.everyMs },
      { name: job.name, opts: { removeOnComplete: KEEP_FINISHED_JOBS, removeOnFail: KEEP_FINISHED_JOBS } },
    );
  }

  private async runJob(job: Job): Promise<void> {
    const registered = this.jobs.get(job.name);
    // Scheduled by a process configured otherwise (or an older version): not this process's to run.
    if (!registered || registered.everyMs === null) {
      this.logger.debug(`Maintenance job ${job.name} skipped: not run by this process`);
      return;
    }
    await registered.run(this.stopping.signal);
  }
}

/** Provides the process's one MaintenanceJobs to the modules that register jobs (worker side). */
@Module({ providers: [MaintenanceJobs], exports: [MaintenanceJobs] })
export class MaintenanceModule {}

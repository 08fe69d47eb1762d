import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { runWithLogContext } from '@app/observability';
import { REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { DelayedError, Job, Queue, Worker } from 'bullmq';
import { SessionRunJob } from '../../application/ports/session-queue.port';
import { SESSION_SIGNALS, SessionSignalsPort } from '../../application/ports/session-signals.port';
import { RunWatcher } from '../../application/run-watcher';
import { SessionExecutionService } from '../../application/session-execution.service';
import { SessionRecoveryService } from '../../application/session-recovery.service';
import { SESSION_RUN_QUEUE } from './session-run.queue';

/**
 * The BullMQ worker that runs sessions: a thin adapter over SessionExecutionService.
 * Built by hand rather than with @Processor so that concurrency and the stall lease come
 * from the validated configuration.
 */
@Injectable()
export class SessionRunWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(SessionRunWorker.name);
  private worker?: Worker<SessionRunJob>;
  private unsubscribe?: () => Promise<void>;
  private sweeper?: NodeJS.Timeout;

  constructor(
    @InjectQueue(SESSION_RUN_QUEUE) private readonly queue: Queue<SessionRunJob>,
    @Inject(SESSION_SIGNALS) private readonly signals: SessionSignalsPort,
    private readonly execution: SessionExecutionService,
    private readonly watcher: RunWatcher,
    private readonly recovery: SessionRecoveryService,
    private readonly config: AppConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const leaseMs = this.config.workerLeaseSeconds * 1000;
    // The limit holds across every worker process, not only this one. It lives in Redis, so it
    // is set again whenever the connection comes back (a Redis restart may have lost it).
    await this.applyGlobalConcurrency();
    this.redis.on('ready', this.onRedisReady);
    this.unsubscribe = await this.signals.onCancelRequested((id) => this.watcher.onCancelRequested(id));
    this.worker = new Worker<SessionRunJob>(SESSION_RUN_QUEUE, (job, token) => this.process(job, token), {
      connection: { host: this.config.redis.host, port: this.config.redis.port, password: this.config.redis.password, maxRetriesPerRequest: null },
      prefix: this.config.queuePrefix,
      concurrency: this.config.maxConcurrentSessions,
      // A worker that stops renewing its job lock for this long is presumed dead; its job
      // is moved back to the queue once and resumed by another worker.
      lockDuration: leaseMs,
      stalledInterval: leaseMs,
      maxStalledCount: 1,
    });
    this.worker.on('failed', (job, err) => void this.onJobFailed(job, err));
    this.worker.on('error', (err) => this.logger.warn(`Worker: ${err.message}`));
    this.sweeper = setInterval(() => void this.sweep(), leaseMs);
    this.sweeper.unref();
    this.logger.log(
      `Session worker started: concurrency ${this.config.maxConcurrentSessions}, stall lease ${this.config.workerLeaseSeconds}s`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis.off('ready', this.onRedisReady);
    clearInterval(this.sweeper);
    await this.unsubscribe?.();
    // Forced: running sessions are not waited for (they may take an hour). Their jobs stall
    // and another worker resumes them from the OpenCode session's state.
    await this.worker?.close(true);
  }

  private readonly onRedisReady = () => void this.applyGlobalConcurrency().catch(() => undefined);

  private async applyGlobalConcurrency(): Promise<void> {
    await this.queue.setGlobalConcurrency(this.config.maxConcurrentSessions);
  }

  /** Every log line of the run carries the correlation id of the request that queued it (or the job id). */
  private process(job: Job<SessionRunJob>, token?: string): Promise<void> {
    const { sessionId, attempt, correlationId } = job.data;
    return runWithLogContext({ correlationId: correlationId ?? `job:${job.id}`, sessionId }, async () => {
      const started = Date.now();
      this.logger.log(`Run of session ${sessionId} (attempt ${attempt}) started, job ${job.id}`);
      const end = await this.execution.run(job.data);
      if (end.waitMs !== undefined && token) {
        // Waiting for provider capacity: the same job goes back to the queue, delayed, and this
        // worker slot is free for sessions on other models (BullMQ's manual delay; no attempt spent).
        await job.moveToDelayed(Date.now() + Math.max(0, end.waitMs), token);
        this.logger.log(`Run of session ${sessionId} (attempt ${attempt}) waits ${end.waitMs} ms for provider capacity`);
        throw new DelayedError();
      }
      this.logger.log(`Run of session ${sessionId} (attempt ${attempt}) ended after ${Date.now() - started} ms`);
    });
  }

  private async onJobFailed(job: Job<SessionRunJob> | undefined, err: Error): Promise<void> {
    if (!job) return;
    const exhausted = job.attemptsMade >= (job.opts.attempts ?? 1) || /stalled/i.test(err.message);
    this.logger.error(`Run job ${job.id} failed (${exhausted ? 'final' : 'will retry'}): ${err.message}`);
    if (!exhausted) return;
    await this.recovery
      .failLostRun(job.data.sessionId, job.data.attempt, `failed: ${err.message}`)
      .catch((e: Error) => this.logger.error(`Could not record the lost run of ${job.data.sessionId}: ${e.message}`));
  }

  private async sweep(): Promise<void> {
    await this.recovery.sweep().catch((err: Error) => this.logger.warn(`Recovery sweep: ${err.message}`));
  }
}

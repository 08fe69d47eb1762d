import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { runWithLogContext } from '@app/observability';
import { ProcessShutdown, REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { DelayedError, Job, Queue, WaitingError, Worker } from 'bullmq';
import { SessionRunJob } from '../../application/ports/session-queue.port';
import { SESSION_SIGNALS, SessionSignalsPort } from '../../application/ports/session-signals.port';
import { RunWatcher } from '../../application/run-watcher';
import { RunEnd, SessionExecutionService } from '../../application/session-execution.service';
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
  /** Ids of the jobs this worker runs now. */
  private readonly active = new Set<string>();
  /** What became of the runs that ended since a planned stop began (none before). */
  private drained?: DrainTally;
  private stopDraining?: () => void;

  constructor(
    @InjectQueue(SESSION_RUN_QUEUE) private readonly queue: Queue<SessionRunJob>,
    @Inject(SESSION_SIGNALS) private readonly signals: SessionSignalsPort,
    private readonly execution: SessionExecutionService,
    private readonly watcher: RunWatcher,
    private readonly recovery: SessionRecoveryService,
    private readonly config: AppConfig,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly shutdown: ProcessShutdown,
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
    this.stopDraining = this.shutdown.onDrain('session worker', (graceOver) => this.drain(graceOver));
    this.logger.log(
      `Session worker started: concurrency ${this.config.maxConcurrentSessions}, stall lease ${this.config.workerLeaseSeconds}s`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopDraining?.();
    this.redis.off('ready', this.onRedisReady);
    clearInterval(this.sweeper);
    await this.unsubscribe?.();
    // After a planned stop (drain) the worker is closed already. Without one (an application
    // closed directly, as tests do) by force, like a crash: the running jobs stall, and another
    // worker resumes them from the OpenCode session's state.
    await this.worker?.close(true);
  }

  /**
   * A planned stop (SIGTERM; ProcessShutdown): no new job from now on; the runs under way may
   * finish until the grace is over, then what is left is handed over (handOverRuns: a turn on an
   * external server goes on and its job goes back to the queue; one on a managed server is aborted
   * and its session queued again as a new attempt). Resolves once no run is left here, having
   * logged what became of them. Heartbeats and job locks are renewed meanwhile, so no other
   * worker's recovery takes these sessions for lost.
   */
  private async drain(graceOver: AbortSignal): Promise<void> {
    const tally: DrainTally = (this.drained = { finished: 0, handedOver: 0, requeued: 0, failed: 0 });
    this.logger.log(`Draining: no new run jobs; ${this.active.size} run(s) under way may finish within the grace`);
    const closed = this.worker?.close() ?? Promise.resolve(); // resolves once the runs under way have ended
    const graceEnds = new Promise<void>((resolve) => (graceOver.aborted ? resolve() : graceOver.addEventListener('abort', () => resolve(), { once: true })));
    if ((await Promise.race([closed.then(() => 'closed'), graceEnds.then(() => 'grace over')])) === 'grace over' && this.active.size > 0) {
      const turns = this.execution.handOverRuns();
      this.logger.warn(`The grace is over with ${this.active.size} run(s) still here: handing over ${turns} OpenCode turn(s)`);
    }
    await closed;
    clearInterval(this.sweeper);
    this.logger.log(
      `Drained: of the runs under way, ${tally.finished} finished here, ${tally.handedOver} handed over (back in the queue: ` +
        `their OpenCode turns go on, or they had not started, for the next worker), ${tally.requeued} re-queued as a new attempt ` +
        `(their OpenCode server stops with this worker)${tally.failed > 0 ? `, ${tally.failed} failed (retried by the queue)` : ''}`,
    );
  }

  private countDrained(end: RunEnd | null): void {
    const tally = this.drained;
    if (!tally) return;
    if (!end) tally.failed += 1;
    else if (end.handedOver === 'new-attempt') tally.requeued += 1;
    else if (end.handedOver === 'follow' || end.waitMs !== undefined) tally.handedOver += 1;
    else tally.finished += 1;
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
      const end = await this.track(job, () => this.execution.run(job.data));
      if (end.handedOver === 'follow' && token) {
        // A planned stop of this worker: the job goes back to the queue as it is (no attempt
        // spent), and the next worker follows the OpenCode turn without sending the prompt again.
        await job.moveToWait(token);
        this.logger.log(`Run of session ${sessionId} (attempt ${attempt}) handed over after ${Date.now() - started} ms: its job is back in the queue`);
        throw new WaitingError();
      }
      if (end.waitMs !== undefined && token) {
        // Waiting for provider capacity or for its place (workspace, worktree slot): the same job
        // goes back to the queue, delayed, and this worker slot is free for other sessions
        // (BullMQ's manual delay; no attempt spent). A job waiting for its place is woken early.
        await job.moveToDelayed(Date.now() + Math.max(0, end.waitMs), token);
        // Debug for a place: a waiting run comes back every few seconds.
        if (end.waitingFor === 'place') this.logger.debug(`Run of session ${sessionId} (attempt ${attempt}) waits up to ${end.waitMs} ms for its workspace or worktree slot`);
        else this.logger.log(`Run of session ${sessionId} (attempt ${attempt}) waits ${end.waitMs} ms for provider capacity`);
        throw new DelayedError();
      }
      this.logger.log(`Run of session ${sessionId} (attempt ${attempt}) ended after ${Date.now() - started} ms`);
    });
  }

  /** Runs the job's attempt as one of this worker's runs, counted when a planned stop drains it. */
  private async track(job: Job<SessionRunJob>, run: () => Promise<RunEnd>): Promise<RunEnd> {
    const id = String(job.id);
    this.active.add(id);
    try {
      const end = await run();
      this.countDrained(end);
      return end;
    } catch (err) {
      this.countDrained(null);
      throw err;
    } finally {
      this.active.delete(id);
    }
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

/** What became of the runs that ended here once a planned stop began. */
interface DrainTally {
  finished: number;
  /** Back in the queue as they were: a turn that goes on for the next worker, or a run that waits (provider capacity, its place). */
  handedOver: number;
  requeued: number;
  failed: number;
}

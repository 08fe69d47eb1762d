import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { ProcessShutdown, REDIS_CLIENT } from '@app/platform';
import { CODING_TURNS, CodingTurnsPort, DatabaseWait, WorktreeDiskUsage } from '@app/session';
import { Public } from '@app/http';
import type Redis from 'ioredis';

const PROBE_TIMEOUT_MS = 2_000;

function withTimeout<T>(work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS).unref()),
  ]);
}

/** Probes for orchestrators and load balancers: public (no key). */
@Public()
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly db: TypeOrmHealthIndicator,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly worktrees: WorktreeDiskUsage,
    private readonly shutdown: ProcessShutdown,
    /** Absent in an API-only process without OPENCODE_HOST: its workers manage OpenCode. */
    @Optional() @Inject(CODING_TURNS) private readonly codingTurns?: CodingTurnsPort,
    /** Present when this process runs the session worker. */
    @Optional() @Inject(DatabaseWait) private readonly databaseWait?: DatabaseWait,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({
    summary: 'Readiness: the process is not stopping, PostgreSQL, Redis and OpenCode answer, WORKTREES_DIR is usable (503 otherwise); details include the disk worktrees use',
  })
  ready() {
    return this.health.check([
      () => this.stoppingCheck(),
      () => this.db.pingCheck('postgres', { timeout: PROBE_TIMEOUT_MS }),
      ...(this.databaseWait ? [() => this.databaseWaitsCheck(this.databaseWait!)] : []),
      () => this.redisCheck(),
      () => this.opencodeCheck(),
      () => this.worktreesCheck(),
    ]);
  }

  /** Down from SIGTERM on: the process drains (no new requests) before it stops. */
  private stoppingCheck() {
    const check = this.indicators.check('shutdown');
    return this.shutdown.draining ? check.down({ message: 'this process is stopping: it takes no new requests or runs' }) : check.up();
  }

  /**
   * Up, with the runs of this process's worker that wait for PostgreSQL to record what must not be
   * lost: {runs, since (the oldest wait), sessions}. Informative: the postgres check says whether it answers.
   */
  private databaseWaitsCheck(databaseWait: DatabaseWait) {
    const waiting = databaseWait.waiting();
    return this.indicators.check('databaseWaits').up({
      runs: waiting.length,
      ...(waiting.length > 0 && { since: waiting[0].since.toISOString(), sessions: waiting.map((w) => w.sessionId) }),
    });
  }

  /** Up with {directory, bytes, measuredAt} (measured at most once a minute); down when WORKTREES_DIR cannot be used. */
  private async worktreesCheck() {
    const check = this.indicators.check('worktrees');
    try {
      const { directory, bytes, measuredAt } = await withTimeout(this.worktrees.report());
      return check.up({ directory, bytes, measuredAt: measuredAt.toISOString() });
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }

  private async redisCheck() {
    const check = this.indicators.check('redis');
    try {
      await withTimeout(this.redis.ping());
      return check.up();
    } catch (err) {
      return check.down({ message: (err as Error).message });
    }
  }

  private async opencodeCheck() {
    const check = this.indicators.check('opencode');
    if (!this.codingTurns) return check.up({ message: 'not used by this process: its workers manage OpenCode' });
    const healthy = await withTimeout(this.codingTurns.isHealthy()).catch(() => false);
    return healthy ? check.up() : check.down({ message: 'the OpenCode server does not answer its health check' });
  }
}

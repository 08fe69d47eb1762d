import { Controller, Get, Inject, Optional } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { REDIS_CLIENT } from '@app/platform';
import { CODING_TURNS, CodingTurnsPort, WorktreeDiskUsage } from '@app/session';
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
    /** Absent in an API-only process without OPENCODE_HOST: its workers manage OpenCode. */
    @Optional() @Inject(CODING_TURNS) private readonly codingTurns?: CodingTurnsPort,
  ) {}

  @Get('live')
  @HealthCheck()
  @ApiOperation({ summary: 'Liveness: the process answers' })
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  @ApiOperation({ summary: 'Readiness: PostgreSQL, Redis and OpenCode answer, WORKTREES_DIR is usable (503 otherwise); details include the disk worktrees use' })
  ready() {
    return this.health.check([
      () => this.db.pingCheck('postgres', { timeout: PROBE_TIMEOUT_MS }),
      () => this.redisCheck(),
      () => this.opencodeCheck(),
      () => this.worktreesCheck(),
    ]);
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

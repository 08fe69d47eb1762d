import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { hostname } from 'node:os';
import { REDIS_CLIENT } from '@app/platform';
import type Redis from 'ioredis';
import { OpencodeFleet } from './fleet/opencode-fleet';
import { RedisFleetRegistry } from './fleet/redis-fleet-registry';
import { OpencodeMetrics } from './metrics/opencode-metrics';
import { ManagedOpencodeServer } from './server/managed-opencode-server';

/**
 * The worker's OpenCode servers: OPENCODE_SERVERS managed `opencode serve` processes (each under
 * <DATA_DIR>/opencode/<slot>-<a|b>, on a free port, in an OS sandbox (OPENCODE_SANDBOX) where only
 * the workspace roots and its data dir are writable), beside the servers someone else runs
 * (OPENCODE_HOST, OPENCODE_HOSTS; confined by the session rulesets only).
 */
export function opencodeFleetFor(config: AppConfig, redis: Redis): OpencodeFleet {
  const fleet = config.opencodeFleet;
  const { password, model } = config.opencode;
  const workerId = `${hostname().replace(/[^A-Za-z0-9-]/g, '-').slice(0, 40)}-${process.pid}`;
  return new OpencodeFleet({
    workerId,
    managedServers: fleet.managedServers,
    externalServers: fleet.externalServers,
    maxSessionsPerServer: fleet.maxSessionsPerServer,
    limits: { afterSessions: fleet.recycleAfterSessions, maxRssMb: fleet.maxRssMb, maxAgeMinutes: fleet.maxAgeMinutes },
    defaultModel: model,
    registry: new RedisFleetRegistry(redis, config.queuePrefix),
    createManaged: (index, _generation, lane) =>
      new ManagedOpencodeServer({
        // Two directories a slot has: a successor starts while the server it replaces still runs.
        dataDir: join(config.dataDir, 'opencode', `${index}-${lane}`),
        model,
        parentEnv: config.processEnvironment,
        passEnv: config.opencodePassEnv,
        sandbox: config.opencodeSandbox,
        snapshots: config.opencodeSnapshots,
        writableRoots: config.workspaceRoots,
        protectedDirs: [config.orchestratorHome],
        // A local server still gets a password: anyone on the machine could drive it otherwise.
        password: randomBytes(18).toString('base64url'),
        // The fleet probes every server and replaces one that stays silent; the server's own check would only race it.
        healthIntervalMs: 3_600_000,
      }),
  });
}

/** Starts the fleet with the application and stops it last, after every other module. */
@Injectable()
class OpencodeFleetLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('OpencodeFleet');

  constructor(private readonly fleet: OpencodeFleet) {}

  async onModuleInit(): Promise<void> {
    await this.fleet.start();
    const servers = this.fleet.list().map((s) => `${s.id} ${s.managed ? 'managed' : 'external'} at ${s.url} (${s.state})`);
    this.logger.log(`OpenCode servers of worker ${this.fleet.workerId}: ${servers.join('; ')}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.fleet.stop();
  }
}

@Module({
  providers: [
    { provide: OpencodeFleet, useFactory: opencodeFleetFor, inject: [AppConfig, REDIS_CLIENT] },
    OpencodeFleetLifecycle,
    OpencodeMetrics,
  ],
  exports: [OpencodeFleet],
})
export class OpencodeModule {}

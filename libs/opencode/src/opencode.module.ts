import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Inject, Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { OpencodeHttpClient } from './client/opencode-http-client';
import { OPENCODE_ENDPOINT, OpencodeEndpointSource, StaticOpencodeEndpoint } from './opencode-endpoint';
import { OpencodeMetrics } from './metrics/opencode-metrics';
import { ManagedOpencodeServer } from './server/managed-opencode-server';
import { OpencodeTurnRunner } from './turn/opencode-turn-runner';

/**
 * OPENCODE_HOST set: the server someone else runs (confined by the session rulesets only).
 * Unset: a local `opencode serve` this process starts and supervises under <DATA_DIR>/opencode,
 * on a free port, in an OS sandbox (OPENCODE_SANDBOX) where only the workspace roots and its
 * data dir are writable.
 */
export function opencodeEndpointFor(config: AppConfig): OpencodeEndpointSource {
  const { host, port, password, model } = config.opencode;
  if (host) return StaticOpencodeEndpoint.fromHost(host, port, password, model);
  return new ManagedOpencodeServer({
    dataDir: join(config.dataDir, 'opencode'),
    model,
    parentEnv: config.processEnvironment,
    passEnv: config.opencodePassEnv,
    sandbox: config.opencodeSandbox,
    snapshots: config.opencodeSnapshots,
    writableRoots: config.workspaceRoots,
    protectedDirs: [config.orchestratorHome],
    // A local server still gets a password: anyone on the machine could drive it otherwise.
    password: password ?? randomBytes(18).toString('base64url'),
  });
}

/** Starts a managed server with the application and stops it last, after every other module. */
@Injectable()
class OpencodeServerLifecycle implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(OpencodeServerLifecycle.name);

  constructor(@Inject(OPENCODE_ENDPOINT) private readonly server: OpencodeEndpointSource) {}

  async onModuleInit(): Promise<void> {
    if (this.server instanceof ManagedOpencodeServer) await this.server.start();
    else this.logger.log(`Using the OpenCode server at ${this.server.endpoint().baseUrl}`);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.server instanceof ManagedOpencodeServer) await this.server.stop();
  }
}

@Module({
  providers: [
    { provide: OPENCODE_ENDPOINT, useFactory: opencodeEndpointFor, inject: [AppConfig] },
    {
      provide: OpencodeHttpClient,
      useFactory: (server: OpencodeEndpointSource) => new OpencodeHttpClient(server),
      inject: [OPENCODE_ENDPOINT],
    },
    {
      provide: OpencodeTurnRunner,
      useFactory: (client: OpencodeHttpClient) => new OpencodeTurnRunner(client),
      inject: [OpencodeHttpClient],
    },
    OpencodeServerLifecycle,
    OpencodeMetrics,
  ],
  exports: [OPENCODE_ENDPOINT, OpencodeHttpClient, OpencodeTurnRunner],
})
export class OpencodeModule {}

import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { ManagedOpencodeServer, OPENCODE_ENDPOINT, OpencodeEndpointSource, OpencodeHttpClient } from '@app/opencode';
import { Metrics } from '../metrics';

/** How often this process asks its OpenCode server whether it answers (orchestrator_opencode_up). */
export const OPENCODE_PROBE_INTERVAL_MS = 15_000;

/**
 * OpenCode metrics of a process that talks to OpenCode: every request of the shared client
 * (latency and errors by route template), restarts of a managed server, and a health probe
 * through the client every 15 s for orchestrator_opencode_up.
 */
@Injectable()
export class OpencodeMetrics implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private unobserve?: () => void;
  private probeTimer?: NodeJS.Timeout;
  private probing = false;
  private stopped = false;

  constructor(
    private readonly metrics: Metrics,
    private readonly client: OpencodeHttpClient,
    @Inject(OPENCODE_ENDPOINT) private readonly server: OpencodeEndpointSource,
  ) {}

  private readonly onRestarted = () => this.metrics.opencodeServerRestarts.inc();

  /** Before any module starts sending requests (the worker starts in onApplicationBootstrap). */
  onModuleInit(): void {
    this.unobserve = this.client.observe({ finished: (request) => this.metrics.opencodeRequest(request) });
    if (this.server instanceof ManagedOpencodeServer) this.server.on('restarted', this.onRestarted);
  }

  onApplicationBootstrap(): void {
    void this.probe();
    this.probeTimer = setInterval(() => void this.probe(), OPENCODE_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.probeTimer);
    this.unobserve?.();
    if (this.server instanceof ManagedOpencodeServer) this.server.off('restarted', this.onRestarted);
  }

  /** One health check; a probe still waiting for its answer is not doubled. */
  async probe(): Promise<void> {
    if (this.probing || this.stopped) return;
    this.probing = true;
    try {
      const healthy = await this.client.health().then((health) => health.healthy === true, () => false);
      if (!this.stopped) this.metrics.opencodeUp.set(healthy ? 1 : 0);
    } finally {
      this.probing = false;
    }
  }
}

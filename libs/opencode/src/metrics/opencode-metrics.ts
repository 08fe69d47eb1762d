import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import { OpencodeHttpClient, OpencodeRequestRecord } from '../client/opencode-http-client';
import { OPENCODE_ENDPOINT, OpencodeEndpointSource } from '../opencode-endpoint';
import { ManagedOpencodeServer } from '../server/managed-opencode-server';

/** How often this process asks its OpenCode server whether it answers (orchestrator_opencode_up). */
const OPENCODE_PROBE_INTERVAL_MS = 15_000;

/**
 * OpenCode metrics of a process that talks to OpenCode (one that imports OpencodeModule): every
 * request of the shared client (latency and errors by route template), restarts of a managed
 * server, and a health probe through the client every 15 s for orchestrator_opencode_up.
 * Nothing when the process has no Metrics.
 */
@Injectable()
export class OpencodeMetrics implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private unobserve?: () => void;
  private probeTimer?: NodeJS.Timeout;
  private probing = false;
  private stopped = false;

  constructor(
    private readonly client: OpencodeHttpClient,
    @Inject(OPENCODE_ENDPOINT) private readonly server: OpencodeEndpointSource,
    @Optional() private readonly metrics?: Metrics,
  ) {}

  private readonly onRestarted = () => this.metrics?.opencodeServerRestarts.inc();

  /** Before any module starts sending requests (the worker starts in onApplicationBootstrap). */
  onModuleInit(): void {
    if (!this.metrics) return;
    this.unobserve = this.client.observe({ finished: (request) => this.record(request) });
    if (this.server instanceof ManagedOpencodeServer) this.server.on('restarted', this.onRestarted);
  }

  onApplicationBootstrap(): void {
    if (!this.metrics) return;
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
    if (this.probing || this.stopped || !this.metrics) return;
    this.probing = true;
    try {
      const healthy = await this.client.health().then((health) => health.healthy === true, () => false);
      if (!this.stopped) this.metrics.opencodeUp.set(healthy ? 1 : 0);
    } finally {
      this.probing = false;
    }
  }

  /** `status` is the HTTP status, or the error kind when no answer came. */
  private record(request: OpencodeRequestRecord): void {
    const status = request.status !== undefined ? String(request.status) : (request.error ?? 'network');
    this.metrics?.opencodeRequestDuration.labels(request.route, request.method.toUpperCase(), status).observe(request.durationMs / 1000);
    if (request.error) this.metrics?.opencodeRequestErrors.labels(request.route, request.error).inc();
  }
}

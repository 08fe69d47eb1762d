import { Injectable, OnApplicationBootstrap, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { Metrics } from '@app/observability';
import type { OpencodeRequestRecord } from '../client/opencode-http-client';
import { FLEET_RECYCLE_KINDS, FLEET_SERVER_STATES } from '../fleet/fleet-labels';
import { FleetRecycle, FleetServerView, OpencodeFleet } from '../fleet/opencode-fleet';

/** How often this process asks its OpenCode servers whether any answers (orchestrator_opencode_up). */
const OPENCODE_PROBE_INTERVAL_MS = 15_000;
const BYTES_PER_MB = 1024 * 1024;
const LATENCY_QUANTILES = [
  ['0.5', 'p50'],
  ['0.95', 'p95'],
] as const;

/** What was last exported of one server: the served count the counter has reached. */
interface ExportedServer {
  served: number;
}

/**
 * OpenCode metrics of a process that runs a fleet (one that imports OpencodeModule): every request
 * of every server's client (latency and errors by route template), a health probe every 15 s for
 * orchestrator_opencode_up, and per server of this worker, after each probe round of the fleet
 * ('changed'): its state, RSS, health latency, runs running and served; from 'recycled', recycles
 * by reason and restarts (a managed server whose process died, replaced). The series of a server that left
 * the fleet's listing are removed, so server ids (new ones at each recycle) do not pile up.
 * Nothing when the process has no Metrics.
 */
@Injectable()
export class OpencodeMetrics implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private unobserve?: () => void;
  private probeTimer?: NodeJS.Timeout;
  private probing = false;
  private stopped = false;
  private readonly exported = new Map<string, ExportedServer>();

  constructor(
    private readonly fleet: OpencodeFleet,
    @Optional() private readonly metrics?: Metrics,
  ) {}

  private readonly onChanged = () => this.exportServers();
  // A server whose process died and was replaced is a restart (its own counter and alert), not a recycle.
  private readonly onRecycled = (recycle: FleetRecycle) =>
    recycle.kind === 'exited' ? this.metrics?.opencodeServerRestarts.inc() : this.metrics?.opencodeServerRecycles.inc({ reason: recycle.kind });

  /** Before any module starts sending requests (the worker starts in onApplicationBootstrap). */
  onModuleInit(): void {
    if (!this.metrics) return;
    this.unobserve = this.fleet.observeRequests({ finished: (request) => this.record(request) });
    // Every reason at 0 from the start: increase() over the first recycle of a kind then sees it.
    for (const reason of FLEET_RECYCLE_KINDS) if (reason !== 'exited') this.metrics.opencodeServerRecycles.inc({ reason }, 0);
    this.fleet.on('recycled', this.onRecycled);
    this.fleet.on('changed', this.onChanged);
  }

  onApplicationBootstrap(): void {
    if (!this.metrics) return;
    this.exportServers(); // the fleet started in onModuleInit; its next probe round is up to 2 s away
    void this.probe();
    this.probeTimer = setInterval(() => void this.probe(), OPENCODE_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.probeTimer);
    this.unobserve?.();
    this.fleet.off('recycled', this.onRecycled);
    this.fleet.off('changed', this.onChanged);
  }

  /** One health check; a probe still waiting for its answer is not doubled. */
  async probe(): Promise<void> {
    if (this.probing || this.stopped || !this.metrics) return;
    this.probing = true;
    try {
      const healthy = await this.fleet.isHealthy();
      if (!this.stopped) this.metrics.opencodeUp.set(healthy ? 1 : 0);
    } finally {
      this.probing = false;
    }
  }

  /** The per-server series from the fleet's listing (this worker's servers, retired ones STOPPED for a while). */
  exportServers(): void {
    if (!this.metrics || this.stopped) return;
    const listed = this.fleet.list();
    for (const server of listed) this.exportServer(this.metrics, server);
    const ids = new Set(listed.map((server) => server.id));
    for (const id of [...this.exported.keys()]) if (!ids.has(id)) this.removeServer(this.metrics, id);
  }

  private exportServer(metrics: Metrics, view: FleetServerView): void {
    const server = view.id;
    const before = this.exported.get(server);
    for (const state of FLEET_SERVER_STATES) metrics.opencodeServerState.set({ server, state }, state === view.state ? 1 : 0);
    if (view.rssMb === null) metrics.opencodeServerRss.remove({ server });
    else metrics.opencodeServerRss.set({ server }, view.rssMb * BYTES_PER_MB);
    for (const [quantile, key] of LATENCY_QUANTILES) {
      const ms = view.latencyMs[key];
      if (ms === null) metrics.opencodeServerLatency.remove({ server, quantile });
      else metrics.opencodeServerLatency.set({ server, quantile }, ms / 1000);
    }
    metrics.opencodeServerSessionsRunning.set({ server }, view.sessionsRunning);
    // A counter (rate() gives runs per second per server); a new server's series starts at 0.
    const servedBefore = before?.served ?? 0;
    metrics.opencodeServerSessionsServed.inc({ server }, Math.max(0, view.sessionsServed - servedBefore));
    this.exported.set(server, { served: Math.max(servedBefore, view.sessionsServed) });
  }

  private removeServer(metrics: Metrics, server: string): void {
    for (const state of FLEET_SERVER_STATES) metrics.opencodeServerState.remove({ server, state });
    metrics.opencodeServerRss.remove({ server });
    for (const [quantile] of LATENCY_QUANTILES) metrics.opencodeServerLatency.remove({ server, quantile });
    metrics.opencodeServerSessionsRunning.remove({ server });
    metrics.opencodeServerSessionsServed.remove({ server });
    this.exported.delete(server);
  }

  /** `status` is the HTTP status, or the error kind when no answer came. */
  private record(request: OpencodeRequestRecord): void {
    // The fleet's undo reaches only the servers it had when observed, not those added since.
    if (this.stopped) return;
    const status = request.status !== undefined ? String(request.status) : (request.error ?? 'network');
    this.metrics?.opencodeRequestDuration.labels(request.route, request.method.toUpperCase(), status).observe(request.durationMs / 1000);
    if (request.error) this.metrics?.opencodeRequestErrors.labels(request.route, request.error).inc();
  }
}

import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { Metrics } from '@app/observability';
import { DatabaseWait } from '@app/session';

/**
 * A worker has no HTTP server of its own: this one serves GET /metrics (Prometheus text format)
 * and GET /health (200 while the process answers; `databaseWaits`: its runs waiting for PostgreSQL)
 * on WORKER_METRICS_PORT, on every interface
 * (Prometheus scrapes each replica over the compose network). WORKER_METRICS_PORT=0: none.
 */
@Injectable()
export class WorkerMetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerMetricsServer.name);
  private server?: Server;

  constructor(
    private readonly config: AppConfig,
    private readonly metrics: Metrics,
    @Optional() @Inject(DatabaseWait) private readonly databaseWait?: DatabaseWait,
  ) {}

  /** The port it listens on (undefined: not listening). */
  get port(): number | undefined {
    const address = this.server?.address();
    return address && typeof address === 'object' ? (address as AddressInfo).port : undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = this.config.workerMetricsPort;
    if (port === 0) {
      this.logger.log('WORKER_METRICS_PORT=0: this worker serves no metrics');
      return;
    }
    const server = createServer((req, res) => void this.answer(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      // Several workers on one machine ("start as many as you like"): the second one still runs.
      this.logger.error(
        `Cannot serve metrics on port ${port} (${(err as Error).message}): this worker runs without them; ` +
          'give each worker on a machine its own WORKER_METRICS_PORT',
      );
      return;
    }
    this.server = server;
    this.logger.log(`Worker metrics at http://0.0.0.0:${this.port}/metrics, health at /health`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain', 'GET only\n');
    try {
      if (path === '/metrics') return this.send(res, 200, this.metrics.contentType, await this.metrics.scrape());
      if (path === '/health') return this.send(res, 200, 'application/json', JSON.stringify({ status: 'ok', ...this.databaseWaits() }));
      this.send(res, 404, 'text/plain', 'GET /metrics or /health\n');
    } catch (err) {
      this.logger.error(`Metrics scrape failed: ${(err as Error).message}`);
      this.send(res, 500, 'text/plain', 'metrics unavailable\n');
    }
  }

  /** The runs waiting for PostgreSQL (to record what must not be lost): how many, since when. */
  private databaseWaits() {
    if (!this.databaseWait) return {};
    const waiting = this.databaseWait.waiting();
    return { databaseWaits: { runs: waiting.length, ...(waiting.length > 0 && { since: waiting[0].since.toISOString() }) } };
  }

  private send(res: ServerResponse, status: number, contentType: string, body: string): void {
    res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}

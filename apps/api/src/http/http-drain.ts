import type { Server, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { ProcessShutdown } from '@app/platform';

/** Still answered while the process drains: the probes (readiness says not ready) and the metrics scrape. */
const ANSWERED_WHILE_DRAINING = /^\/(metrics|health)(\/|$)/;

/**
 * The API's part of a planned stop (ProcessShutdown). From the moment draining begins, the server
 * takes no new connection, closes its idle keep-alive ones, and answers a new request on a
 * connection still open 503 SHUTTING_DOWN (`Connection: close`; the probes and /metrics still
 * answer, readiness with 503). The requests in flight finish, each closing its connection after
 * its response; event streams are ended by their owner (SessionSseStreams). What is still open
 * when the grace is over is closed.
 */
export class HttpDrain {
  private readonly inFlight = new Set<ServerResponse>();
  private idle?: () => void;

  constructor(private readonly shutdown: ProcessShutdown) {}

  /** Counts the requests in flight, and refuses new ones while the process drains. */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    if (this.shutdown.draining) {
      res.shouldKeepAlive = false;
      if (!ANSWERED_WHILE_DRAINING.test(req.url)) {
        res
          .status(503)
          .setHeader('Retry-After', '1')
          .json({ statusCode: 503, code: 'SHUTTING_DOWN', message: 'This API process is stopping; send the request again (another instance answers it)', details: { retryable: true } });
        return;
      }
    }
    this.inFlight.add(res);
    res.once('close', () => {
      this.inFlight.delete(res);
      if (this.inFlight.size === 0) this.idle?.();
    });
    next();
  };

  /** Stops listening and waits for the requests in flight, at most until `graceOver`; then closes every connection left. */
  async drain(server: Server, graceOver: AbortSignal): Promise<void> {
    // No new connections; idle keep-alive ones are closed now (Node closes them on close()).
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // A response not yet begun closes its connection when it ends.
    for (const res of this.inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
    if (this.inFlight.size > 0) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.idle = undefined;
          graceOver.removeEventListener('abort', done);
          resolve();
        };
        this.idle = done;
        graceOver.addEventListener('abort', done, { once: true });
        if (graceOver.aborted) done();
      });
    }
    server.closeAllConnections();
    await closed;
  }

  /** Requests being served now. */
  get requestsInFlight(): number {
    return this.inFlight.size;
  }
}

import { Agent, createServer, get, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { ProcessShutdown } from '@app/platform';
import { HttpDrain } from './http-drain';

/** A server whose every request passes the drain's middleware, then waits for the test to answer it. */
async function serverWith(drain: HttpDrain) {
  const waiting: ServerResponse[] = [];
  const server = createServer((req, res) => drain.middleware(req as Request, res as Response, (() => waiting.push(res)) as NextFunction));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { server, url, waiting };
}

/** A GET (on a connection of its own, unless an agent keeps one alive): its response, or the connection error's code. */
function request(url: string, agent: Agent | false = false): Promise<{ res?: IncomingMessage; body: string; error?: string }> {
  return new Promise((resolve) => {
    get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ res, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ res, body, error: err.code ?? err.message }));
    }).on('error', (err: NodeJS.ErrnoException) => resolve({ body: '', error: err.code ?? err.message }));
  });
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};

describe('HttpDrain', () => {
  let server: Server | undefined;
  afterEach(() => server?.closeAllConnections());

  it('stops taking connections at once and lets a request in flight finish, its connection closed after it', async () => {
    const shutdown = new ProcessShutdown();
    const drain = new HttpDrain(shutdown);
    const started = await serverWith(drain);
    server = started.server;
    const keepAlive = new Agent({ keepAlive: true });
    const inFlight = request(`${started.url}/api/v1/sessions`, keepAlive);
    await until(() => started.waiting.length === 1);

    const grace = new AbortController();
    let drained = false;
    const draining = drain.drain(started.server, grace.signal).then(() => (drained = true));
    expect((await request(`${started.url}/health/live`)).error).toBe('ECONNREFUSED');
    expect(drained).toBe(false); // the request in flight is waited for
    started.waiting[0].end('done');
    const answered = await inFlight;
    expect(answered.body).toBe('done');
    expect(answered.res?.headers.connection).toBe('close'); // though its client would have kept it alive
    await draining;
    keepAlive.destroy();
    expect(drain.requestsInFlight).toBe(0);
    expect(grace.signal.aborted).toBe(false); // it did not need the whole grace
  });

  it('closes what is still open when the grace is over', async () => {
    const drain = new HttpDrain(new ProcessShutdown());
    const started = await serverWith(drain);
    server = started.server;
    const endless = request(`${started.url}/api/v1/sessions/x/diff`);
    await until(() => started.waiting.length === 1);

    const grace = new AbortController();
    const draining = drain.drain(started.server, grace.signal);
    grace.abort();
    await draining;
    expect((await endless).error).toBe('ECONNRESET');
  });
});

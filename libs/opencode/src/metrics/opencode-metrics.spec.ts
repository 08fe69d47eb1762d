import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { METRIC, Metrics } from '@app/observability';
import { OpencodeHttpClient } from '../client/opencode-http-client';
import { StaticOpencodeEndpoint } from '../opencode-endpoint';
import { ManagedOpencodeServer } from '../server/managed-opencode-server';
import { OpencodeMetrics } from './opencode-metrics';
import { scrapeSamples as samples } from '@app/observability/testing';


/**
 * A stand-in OpenCode answering on a real socket: the client's axios interceptors are what is
 * tested here, against real HTTP, timeouts and refused connections.
 */
describe('OpenCode request metrics (client interceptors)', () => {
  let server: Server;
  let baseUrl: string;
  let healthy = true;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/global/health') return res.end(JSON.stringify({ healthy, version: 'test' }));
      if (path.endsWith('/slow')) return void setTimeout(() => res.end('{}'), 500);
      if (path.startsWith('/session/ses_missing')) {
        res.statusCode = 404;
        return res.end(JSON.stringify({ name: 'NotFoundError', data: { message: 'no such session' } }));
      }
      res.setHeader('content-type', 'application/json');
      res.end(path === '/session/status' ? '{}' : path.endsWith('/message') ? '[]' : '{"id":"ses_x"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const setUp = (options: { requestTimeoutMs?: number; url?: string } = {}) => {
    const metrics = new Metrics({ defaultMetrics: false });
    const endpoint = new StaticOpencodeEndpoint(options.url ?? baseUrl);
    const client = new OpencodeHttpClient(endpoint, { requestTimeoutMs: options.requestTimeoutMs });
    const binder = new OpencodeMetrics(client, endpoint, metrics);
    binder.onModuleInit();
    return { metrics, client, binder };
  };
  const count = (values: Map<string, number>, route: string, method: string, status: string) =>
    values.get(`${METRIC.opencodeRequestDuration}_count{route="${route}",method="${method}",status="${status}"}`);

  it('labels requests by route template (ids replaced), method and status', async () => {
    const { metrics, client, binder } = setUp();
    await client.createSession('/w', { title: 't' });
    await client.getSession('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt');
    await client.messages('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt');
    await client.messages('/w', 'ses_other7');
    await client.sessionStatus('/w');
    await client.promptAsync('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt', { parts: [] } as never);
    await client.diff('/w', 'ses_4fZk2LmQp9Xa7Bn3Vt', 'msg_0123456789abcdef');
    await expect(client.getSession('/w', 'ses_missing1')).rejects.toThrow(/no such session/);
    binder.onApplicationShutdown();

    const values = await samples(metrics);
    expect(count(values, '/session', 'POST', '200')).toBe(1);
    expect(count(values, '/session/:id', 'GET', '200')).toBe(1);
    expect(count(values, '/session/:id/message', 'GET', '200')).toBe(2);
    expect(count(values, '/session/status', 'GET', '200')).toBe(1);
    expect(count(values, '/session/:id/prompt_async', 'POST', '200')).toBe(1);
    expect(count(values, '/session/:id/diff', 'GET', '200')).toBe(1);
    expect(count(values, '/session/:id', 'GET', '404')).toBe(1);
    expect(values.get(`${METRIC.opencodeRequestErrors}{route="/session/:id",kind="http"}`)).toBe(1);
    const series = [...(await metrics.scrape()).matchAll(/route="([^"]*)"/g)].map(([, route]) => route);
    expect(series.filter((route) => /ses_|msg_/.test(route))).toEqual([]);
  });

  it('counts timeouts and refused connections by kind, and nothing once undone', async () => {
    const { metrics, client, binder } = setUp({ requestTimeoutMs: 100 });
    await expect(client.getSession('/w', 'slow')).rejects.toThrow();
    let values = await samples(metrics);
    expect(values.get(`${METRIC.opencodeRequestErrors}{route="/session/:id",kind="timeout"}`)).toBe(1);
    expect(count(values, '/session/:id', 'GET', 'timeout')).toBe(1);

    binder.onApplicationShutdown();
    await client.sessionStatus('/w');
    values = await samples(metrics);
    expect(count(values, '/session/status', 'GET', '200')).toBeUndefined();

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const refused = setUp({ url: deadUrl });
    await expect(refused.client.sessionStatus('/w')).rejects.toThrow();
    values = await samples(refused.metrics);
    expect(values.get(`${METRIC.opencodeRequestErrors}{route="/session/status",kind="network"}`)).toBe(1);
    expect(count(values, '/session/status', 'GET', 'network')).toBe(1);

    // And the probe finds it down.
    await refused.binder.probe();
    expect((await samples(refused.metrics)).get(METRIC.opencodeUp)).toBe(0);
    refused.binder.onApplicationShutdown();
  });

  it('reports up from the health probe, and down when the server says it is not healthy', async () => {
    const { metrics, binder } = setUp();
    expect((await samples(metrics)).has(METRIC.opencodeUp)).toBe(false);
    await binder.probe();
    expect((await samples(metrics)).get(METRIC.opencodeUp)).toBe(1);
    healthy = false;
    try {
      await binder.probe();
    } finally {
      healthy = true;
    }
    const values = await samples(metrics);
    expect(values.get(METRIC.opencodeUp)).toBe(0);
    expect(count(values, '/global/health', 'GET', '200')).toBe(2);
    binder.onApplicationShutdown();
  });

  it('does nothing in a process without Metrics', async () => {
    const client = new OpencodeHttpClient(new StaticOpencodeEndpoint(baseUrl));
    const observe = jest.spyOn(client, 'observe');
    const health = jest.spyOn(client, 'health');
    const binder = new OpencodeMetrics(client, new StaticOpencodeEndpoint(baseUrl));
    binder.onModuleInit();
    binder.onApplicationBootstrap();
    await binder.probe();
    binder.onApplicationShutdown();
    expect(observe).not.toHaveBeenCalled();
    expect(health).not.toHaveBeenCalled();
  });

  it("counts the restarts of a managed server from its supervisor's events", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'opencode-metrics-'));
    try {
      const managed = new ManagedOpencodeServer({ dataDir }); // never started: only its events matter here
      const metrics = new Metrics({ defaultMetrics: false });
      const binder = new OpencodeMetrics(new OpencodeHttpClient(managed), managed, metrics);
      binder.onModuleInit();
      managed.emit('restarted', { restarts: 1, reason: 'exited' });
      managed.emit('restarted', { restarts: 2, reason: 'exited' });
      binder.onApplicationShutdown();
      managed.emit('restarted', { restarts: 3, reason: 'exited' });
      expect((await samples(metrics)).get(METRIC.opencodeServerRestarts)).toBe(2);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

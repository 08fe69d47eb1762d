import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { METRIC, Metrics } from '@app/observability';
import { scrapeSamples as samples } from '@app/observability/testing';
import { FleetRecycle, FleetServerView, OpencodeFleet } from '../fleet/opencode-fleet';
import { OpencodeMetrics } from './opencode-metrics';

const STATES = ['STARTING', 'READY', 'DRAINING', 'UNHEALTHY', 'STOPPED'];

/**
 * A real fleet of one external server, a stand-in OpenCode on a real socket: the requests of the
 * fleet's clients (its probes, a run's) and its events are what the metrics are made from.
 */
describe('OpencodeMetrics', () => {
  let server: Server;
  let baseUrl: string;
  let healthy = true;
  let slowHealth = false;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path === '/global/health') {
        const answer = () => res.end(JSON.stringify({ healthy, version: 'test' }));
        return void (slowHealth ? setTimeout(answer, 3_000) : answer());
      }
      res.setHeader('content-type', 'application/json');
      res.end('{"id":"ses_x"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const running: Array<{ fleet: OpencodeFleet; binder: OpencodeMetrics }> = [];
  afterEach(async () => {
    for (const { fleet, binder } of running.splice(0)) {
      binder.onApplicationShutdown();
      await fleet.stop();
    }
    healthy = true;
    slowHealth = false;
  });

  /** A fleet of one external server at `url`, not started; its probes only when the test asks (probeAll). */
  const fleetAt = (url = baseUrl) =>
    new OpencodeFleet({
      workerId: 'spec-1',
      managedServers: 0,
      externalServers: [{ url }],
      maxSessionsPerServer: 2,
      limits: { afterSessions: 0, maxRssMb: 0, maxAgeMinutes: 0 },
      createManaged: () => {
        throw new Error('none');
      },
      probeIntervalMs: 3_600_000,
      // Roomy for a loaded machine; the slow health answer (3 s) still times out.
      probeTimeoutMs: 1_000,
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined },
    });

  /** OpencodeMetrics bound (as its module would) to a started fleet. */
  const setUp = async (options: { url?: string; metrics?: Metrics | null } = {}) => {
    const metrics = options.metrics === null ? undefined : (options.metrics ?? new Metrics({ defaultMetrics: false }));
    const fleet = fleetAt(options.url);
    const binder = new OpencodeMetrics(fleet, metrics);
    running.push({ fleet, binder });
    binder.onModuleInit();
    await fleet.start();
    binder.onApplicationBootstrap();
    // The health probe it starts, answered: a test's own probe() would otherwise find it still waiting.
    while (metrics && !(await samples(metrics)).has(METRIC.opencodeUp)) await sleep(5);
    return { metrics: metrics!, fleet, binder, id: fleet.list()[0].id };
  };
  const count = (values: Map<string, number>, route: string, method: string, status: string) =>
    values.get(`${METRIC.opencodeRequestDuration}_count{route="${route}",method="${method}",status="${status}"}`);
  const stateOf = (values: Map<string, number>, server: string) =>
    Object.fromEntries(STATES.map((state) => [state, values.get(`${METRIC.opencodeServerState}{server="${server}",state="${state}"}`)]));
  const seriesOf = (values: Map<string, number>, server: string) => [...values.keys()].filter((series) => series.includes(`server="${server}"`));

  describe('requests of every server', () => {
    it('labels the requests of the fleet (probes, runs) by route template, method and status', async () => {
      const { metrics, fleet } = await setUp();
      const lease = await fleet.place({ waitMs: 0 });
      await lease!.runner.openTurn({ workspace: tmpdir(), title: 't', prompt: 'p', agent: 'build' });
      lease!.release();
      const values = await samples(metrics);
      expect(count(values, '/global/health', 'GET', '200')).toBeGreaterThanOrEqual(1);
      expect(count(values, '/session', 'POST', '200')).toBe(1);
    });

    it('counts timeouts and refused connections by kind, and nothing once shut down', async () => {
      const { metrics, fleet, binder } = await setUp();
      slowHealth = true;
      await fleet.probeAll();
      let values = await samples(metrics);
      expect(values.get(`${METRIC.opencodeRequestErrors}{route="/global/health",kind="timeout"}`)).toBe(1);
      expect(count(values, '/global/health', 'GET', 'timeout')).toBe(1);

      binder.onApplicationShutdown();
      await fleet.probeAll();
      values = await samples(metrics);
      expect(values.get(`${METRIC.opencodeRequestErrors}{route="/global/health",kind="timeout"}`)).toBe(1);

      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const refused = await setUp({ url: deadUrl });
      values = await samples(refused.metrics);
      expect(values.get(`${METRIC.opencodeRequestErrors}{route="/global/health",kind="network"}`)).toBeGreaterThanOrEqual(1);
      // And the probe finds it down.
      await refused.binder.probe();
      expect((await samples(refused.metrics)).get(METRIC.opencodeUp)).toBe(0);
    });

    it('reports up from the health probe, and down when the server says it is not healthy', async () => {
      const metrics = new Metrics({ defaultMetrics: false });
      expect((await samples(metrics)).has(METRIC.opencodeUp)).toBe(false);
      const { binder } = await setUp({ metrics });
      await binder.probe();
      expect((await samples(metrics)).get(METRIC.opencodeUp)).toBe(1);
      healthy = false;
      await binder.probe();
      expect((await samples(metrics)).get(METRIC.opencodeUp)).toBe(0);
    });

    it('does nothing in a process without Metrics', async () => {
      const fleet = fleetAt();
      const observe = jest.spyOn(fleet, 'observeRequests');
      const healthCheck = jest.spyOn(fleet, 'isHealthy');
      const list = jest.spyOn(fleet, 'list');
      const binder = new OpencodeMetrics(fleet);
      binder.onModuleInit();
      await fleet.start();
      binder.onApplicationBootstrap();
      await binder.probe();
      fleet.emit('changed');
      binder.onApplicationShutdown();
      await fleet.stop();
      expect(observe).not.toHaveBeenCalled();
      expect(healthCheck).not.toHaveBeenCalled();
      expect(list).not.toHaveBeenCalled();
      expect(fleet.listenerCount('changed') + fleet.listenerCount('recycled')).toBe(0);
    });
  });

  describe('per server', () => {
    it("exports each server's state, health latency, runs running and served from the fleet's listing at each probe round", async () => {
      const { metrics, fleet, id } = await setUp();
      let values = await samples(metrics);
      // At start (onApplicationBootstrap), before any probe round after it.
      expect(stateOf(values, id)).toEqual({ STARTING: 0, READY: 1, DRAINING: 0, UNHEALTHY: 0, STOPPED: 0 });
      const p50 = values.get(`${METRIC.opencodeServerLatency}{server="${id}",quantile="0.5"}`);
      const p95 = values.get(`${METRIC.opencodeServerLatency}{server="${id}",quantile="0.95"}`);
      expect(p50).toBeGreaterThan(0);
      expect(p95).toBeGreaterThanOrEqual(p50!);
      expect(values.get(`${METRIC.opencodeServerSessionsRunning}{server="${id}"}`)).toBe(0);
      expect(values.get(`${METRIC.opencodeServerSessionsServed}{server="${id}"}`)).toBe(0);
      expect(values.has(`${METRIC.opencodeServerRss}{server="${id}"}`)).toBe(false); // external: not our process

      const first = (await fleet.place({ waitMs: 0 }))!;
      const second = (await fleet.place({ waitMs: 0 }))!;
      await fleet.probeAll();
      values = await samples(metrics);
      expect(values.get(`${METRIC.opencodeServerSessionsRunning}{server="${id}"}`)).toBe(2);

      first.release();
      second.release();
      await fleet.probeAll();
      values = await samples(metrics);
      expect(values.get(`${METRIC.opencodeServerSessionsRunning}{server="${id}"}`)).toBe(0);
      expect(values.get(`${METRIC.opencodeServerSessionsServed}{server="${id}"}`)).toBe(2);
      (await fleet.place({ waitMs: 0 }))!.release();
      await fleet.probeAll();
      await fleet.probeAll(); // an unchanged count adds nothing
      expect((await samples(metrics)).get(`${METRIC.opencodeServerSessionsServed}{server="${id}"}`)).toBe(3);

      fleet.drain(id, 'asked for');
      await fleet.probeAll();
      expect(stateOf(await samples(metrics), id)).toEqual({ STARTING: 0, READY: 0, DRAINING: 1, UNHEALTHY: 0, STOPPED: 0 });
    });

    it('shows a server that stops answering UNHEALTHY', async () => {
      const { metrics, fleet, id } = await setUp();
      healthy = false;
      for (let i = 0; i < 3; i++) await fleet.probeAll(); // unhealthyAfterFailures
      expect(stateOf(await samples(metrics), id)).toEqual({ STARTING: 0, READY: 0, DRAINING: 0, UNHEALTHY: 1, STOPPED: 0 });
    });

    it('removes the series of a server that left the listing, and keeps the others', async () => {
      const { metrics, fleet, binder, id } = await setUp();
      const real = fleet.list()[0];
      const other: FleetServerView = { ...real, id: 'spec-1-m0g2', managed: true, pid: 4242, rssMb: 300, sessionsServed: 5 };
      const list = jest.spyOn(fleet, 'list').mockReturnValue([real, other]);
      fleet.emit('changed');
      let values = await samples(metrics);
      expect(values.get(`${METRIC.opencodeServerRss}{server="spec-1-m0g2"}`)).toBe(300 * 1024 * 1024);
      expect(values.get(`${METRIC.opencodeServerSessionsServed}{server="spec-1-m0g2"}`)).toBe(5);
      expect(seriesOf(values, 'spec-1-m0g2')).toHaveLength(STATES.length + 5); // states, rss, p50, p95, running, served

      list.mockReturnValue([real]);
      fleet.emit('changed');
      values = await samples(metrics);
      expect(seriesOf(values, 'spec-1-m0g2')).toEqual([]);
      expect(stateOf(values, id).READY).toBe(1);

      // A worker whose fleet stopped lists nothing: nothing is left of its servers.
      list.mockRestore();
      await fleet.stop();
      binder.exportServers();
      expect([...(await samples(metrics)).keys()].filter((series) => series.includes('server="'))).toEqual([]);
    });

    it('counts a managed server whose process died and was replaced as a restart, not as a recycle', async () => {
      const { metrics, fleet } = await setUp();
      const replaced = (id: string, kind: FleetRecycle['kind']) =>
        fleet.emit('recycled', { id, replacement: id.replace(/g(\d+)$/, (_, g: string) => `g${Number(g) + 1}`), reason: kind, kind } satisfies FleetRecycle);
      replaced('spec-1-m0g1', 'exited');
      replaced('spec-1-m0g2', 'exited');
      replaced('spec-1-m1g1', 'sessions');
      const values = await samples(metrics);
      expect(values.get(METRIC.opencodeServerRestarts)).toBe(2);
      expect(values.get(`${METRIC.opencodeServerRecycles}{reason="sessions"}`)).toBe(1);
      expect([...values.keys()].filter((series) => series.includes('reason="exited"'))).toEqual([]);
    });

    it("counts the fleet's recycles by reason, every reason shown from the start, none after shutdown", async () => {
      const { metrics, fleet, binder } = await setUp();
      const recycles = async () => {
        const values = await samples(metrics);
        return Object.fromEntries(['sessions', 'rss', 'age', 'drain', 'unhealthy'].map((reason) => [reason, values.get(`${METRIC.opencodeServerRecycles}{reason="${reason}"}`)]));
      };
      expect(await recycles()).toEqual({ sessions: 0, rss: 0, age: 0, drain: 0, unhealthy: 0 });
      const recycled = (kind: FleetRecycle['kind']) => fleet.emit('recycled', { id: 'spec-1-m0g1', replacement: 'spec-1-m0g2', reason: kind, kind } satisfies FleetRecycle);
      recycled('rss');
      recycled('rss');
      recycled('unhealthy');
      binder.onApplicationShutdown();
      recycled('age');
      expect(await recycles()).toEqual({ sessions: 0, rss: 2, age: 0, drain: 0, unhealthy: 1 });
    });
  });
});

import { EventEmitter } from 'node:events';
import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ManagedOpencodeServer } from '../server/managed-opencode-server';
import { OpencodeFleet } from './opencode-fleet';

type Health = 'answers' | 'fails' | 'hangs';

/** GET /global/health answered (healthy), failed (503) or never answered (a frozen server), as set. */
async function healthServer(): Promise<{ url: string; set(health: Health): void; close(): Promise<void> }> {
  let health: Health = 'answers';
  const server: Server = createServer((_req, res) => {
    if (health === 'hangs') return;
    res.writeHead(health === 'answers' ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ healthy: health === 'answers' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    set: (value) => (health = value),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Stands in for a managed `opencode serve` process: no process, its endpoint the health server. */
class FakeManagedServer extends EventEmitter {
  readonly defaultModel = 'rehearsal/scripted';
  readonly isSandboxed = false;
  readonly pid = undefined;
  stopped = false;

  constructor(private readonly url: string) {
    super();
  }

  endpoint() {
    return { baseUrl: this.url };
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.stopped = true;
  }
}

describe('OpencodeFleet.replaceSilent (a turn got no answer for its whole silence limit)', () => {
  const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
  let health: Awaited<ReturnType<typeof healthServer>>;
  let made: FakeManagedServer[];
  let fleet: OpencodeFleet;

  beforeEach(async () => {
    health = await healthServer();
    made = [];
    fleet = new OpencodeFleet({
      workerId: 'spec',
      managedServers: 1,
      externalServers: [],
      maxSessionsPerServer: 4,
      limits: { afterSessions: 0, maxRssMb: 0, maxAgeMinutes: 0 },
      createManaged: () => {
        const server = new FakeManagedServer(health.url);
        made.push(server);
        return server as unknown as ManagedOpencodeServer;
      },
      probeIntervalMs: 60_000, // probed by hand
      probeTimeoutMs: 500,
      replaceUnhealthyAfterMs: 60_000,
      logger: quiet,
    });
    await fleet.start();
  });

  afterEach(async () => {
    await fleet.stop();
    await health.close();
  });

  it('kills and replaces a managed server its probes find silent too (UNHEALTHY): the runs on it are lost at once', async () => {
    const lease = (await fleet.place({ waitMs: 0 }))!;
    expect(lease.serverId).toBe('spec-m0g1');
    health.set('fails');
    for (let i = 0; i < 3; i++) await fleet.probeAll();
    expect(fleet.list()).toEqual([expect.objectContaining({ id: 'spec-m0g1', state: 'UNHEALTHY' })]);

    // Frozen: a probe is in flight when the server is replaced; its failure must not bring it back as UNHEALTHY.
    health.set('hangs');
    const probing = fleet.probeAll();
    expect(fleet.replaceSilent('spec-m0g1', 'OpenCode did not answer for 31 s')).toBe(true);
    expect(lease.lost.aborted).toBe(true);
    expect((lease.lost.reason as Error).message).toBe(
      'the OpenCode server spec-m0g1 was lost: the server was stopped (unhealthy, and a turn on it got no answer (OpenCode did not answer for 31 s))',
    );
    await probing;
    health.set('answers');
    await fleet.probeAll();
    expect(made[0].stopped).toBe(true);
    expect(fleet.list().map((s) => [s.id, s.state])).toEqual([
      ['spec-m0g2', 'READY'],
      ['spec-m0g1', 'STOPPED'],
    ]);
    lease.release();
  });

  it('leaves a server that answers its probes alone: the turn stays FAILED, its server keeps its runs', async () => {
    const lease = (await fleet.place({ waitMs: 0 }))!;
    expect(fleet.replaceSilent('spec-m0g1', 'OpenCode did not answer for 31 s')).toBe(false);
    expect(lease.lost.aborted).toBe(false);
    expect(fleet.list().map((s) => [s.id, s.state])).toEqual([['spec-m0g1', 'READY']]);
    expect(fleet.replaceSilent('spec-m9g1', 'unknown')).toBe(false);
    lease.release();
  });
});

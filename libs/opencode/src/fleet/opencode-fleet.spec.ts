import { createServer } from 'node:net';
import { OpencodeFleet } from './opencode-fleet';

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('OpencodeFleet with an external server', () => {
  const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

  async function fleetOf(url: string): Promise<OpencodeFleet> {
    const fleet = new OpencodeFleet({
      workerId: 'spec',
      managedServers: 0,
      externalServers: [{ url }],
      maxSessionsPerServer: 4,
      limits: { afterSessions: 0, maxRssMb: 0, maxAgeMinutes: 0 },
      createManaged: () => {
        throw new Error('no managed server here');
      },
      probeIntervalMs: 60_000,
      probeTimeoutMs: 200,
      logger: quiet,
    });
    await fleet.start();
    return fleet;
  }

  it('says its turns outlive the worker, and rejoins one on it before its first probe answered (a worker that just started)', async () => {
    const fleet = await fleetOf(`http://127.0.0.1:${await closedPort()}`);
    const [server] = fleet.list();
    expect(server).toMatchObject({ managed: false, state: 'STARTING' }); // its first probe failed
    expect(fleet.outlivesWorker(server.id)).toBe(true);
    expect(fleet.outlivesWorker('spec-m0g1')).toBe(false);

    const lease = fleet.rejoin(server.id);
    expect(lease?.serverId).toBe(server.id);
    lease!.release();
    await fleet.stop();
    expect(fleet.outlivesWorker(server.id)).toBe(false); // no longer this worker's to vouch for
    expect(fleet.rejoin(server.id)).toBeNull();
  });

  it('replaceSilent never replaces a server someone else runs, UNHEALTHY or not', async () => {
    const fleet = await fleetOf('http://127.0.0.1:9'); // discard port: nothing answers
    for (let i = 0; i < 3; i++) await fleet.probeAll();
    const [external] = fleet.list();
    expect(external.state).toBe('UNHEALTHY');
    const lease = fleet.rejoin(external.id)!;
    expect(fleet.replaceSilent(external.id, 'OpenCode did not answer for 31 s')).toBe(false);
    expect(lease.lost.aborted).toBe(false);
    expect(fleet.list()).toEqual([expect.objectContaining({ id: external.id, state: 'UNHEALTHY' })]);
    lease.release();
    await fleet.stop();
  });
});

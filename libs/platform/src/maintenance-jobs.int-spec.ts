import { Queue } from 'bullmq';
import { testConfig } from '../../../test/support/database';
import { MAINTENANCE_QUEUE, MaintenanceJob, MaintenanceJobs } from './maintenance-jobs';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('MaintenanceJobs (real Redis)', () => {
  const config = testConfig();
  const started: MaintenanceJobs[] = [];

  async function worker(...jobs: MaintenanceJob[]): Promise<MaintenanceJobs> {
    const maintenance = new MaintenanceJobs(config);
    for (const job of jobs) maintenance.register(job);
    maintenance.onApplicationBootstrap();
    await maintenance.scheduled;
    started.push(maintenance);
    return maintenance;
  }

  async function schedulers(): Promise<string[]> {
    const queue = new Queue(MAINTENANCE_QUEUE, { connection: { ...config.redis, maxRetriesPerRequest: null }, prefix: config.queuePrefix });
    try {
      return (await queue.getJobSchedulers()).map((s) => s.key);
    } finally {
      await queue.close();
    }
  }

  afterAll(async () => {
    for (const maintenance of started) await maintenance.onApplicationShutdown();
  });

  it('runs a job registered by two workers once per interval, by one worker at a time, and stops with them', async () => {
    const runs: number[] = [];
    let active = 0;
    let mostAtOnce = 0;
    const tick = (): MaintenanceJob => ({
      name: 'tick',
      everyMs: 1000,
      run: async () => {
        runs.push(Date.now());
        mostAtOnce = Math.max(mostAtOnce, ++active);
        await sleep(200);
        active--;
      },
    });
    const first = await worker(tick());
    const second = await worker(tick());
    await sleep(4_500);
    await first.onApplicationShutdown();
    await second.onApplicationShutdown();
    // One run right away, then one per second: about 5 in 4.5 s (10 if each worker had its own schedule).
    expect(runs.length).toBeGreaterThanOrEqual(2);
    expect(runs.length).toBeLessThanOrEqual(6);
    expect(mostAtOnce).toBe(1);
    expect(await schedulers()).toEqual(['tick']);
    const stoppedAt = runs.length;
    await sleep(1_500);
    expect(runs.length).toBe(stoppedAt);
  }, 30_000);

  it('removes the schedule of a job registered without an interval', async () => {
    const maintenance = await worker({ name: 'tick', everyMs: null, run: async () => undefined }, { name: 'other', everyMs: 60_000, run: async () => undefined });
    expect(await schedulers()).toEqual(['other']);
    await maintenance.onApplicationShutdown();
  });

  it('aborts a running job when the process shuts down', async () => {
    let entered!: () => void;
    const running = new Promise<void>((resolve) => (entered = resolve));
    let sawAbort = false;
    const maintenance = await worker({
      name: 'long',
      everyMs: 60_000,
      run: async (signal) => {
        entered();
        while (!signal.aborted) await sleep(20);
        sawAbort = true;
      },
    });
    await running;
    await maintenance.onApplicationShutdown();
    expect(sawAbort).toBe(true);
  }, 30_000);
});

import { Logger } from '@nestjs/common';
import { METRIC } from './metric-names';
import { Metrics } from './metrics';
import { MetricsRefresher } from './metrics-refresher';
import { scrapeSamples as samples } from './testing';

const INTERVAL_MS = 15_000;

describe('MetricsRefresher', () => {
  let metrics: Metrics;
  let refresher: MetricsRefresher;
  let warn: jest.SpyInstance;
  let info: jest.SpyInstance;

  beforeEach(() => {
    jest.useFakeTimers();
    metrics = new Metrics({ defaultMetrics: false, aggregateTimeoutMs: 60_000 });
    refresher = new MetricsRefresher(metrics, { intervalMs: INTERVAL_MS });
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    info = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
  });
  afterEach(async () => {
    const stopped = refresher.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(60_000); // a read still sleeping on a fake timer
    await stopped;
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('refreshes once at start, then every interval after the previous refresh ended, on a timer that does not hold the process', async () => {
    let reads = 0;
    const read = jest.fn(async (): Promise<Record<string, number>> => ({ RUNNING: ++reads }));
    metrics.refreshInBackground('sessions', { read });
    const setTimeoutSpy = jest.spyOn(global, 'setTimeout');
    refresher.onApplicationBootstrap();
    expect(read).not.toHaveBeenCalled(); // not during start-up itself
    await jest.advanceTimersByTimeAsync(0);
    expect(read).toHaveBeenCalledTimes(1);
    expect((await samples(metrics)).get(`${METRIC.sessions}{status="RUNNING"}`)).toBe(1);
    const timer = setTimeoutSpy.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);

    await jest.advanceTimersByTimeAsync(INTERVAL_MS - 1);
    expect(read).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(read).toHaveBeenCalledTimes(2);
    await jest.advanceTimersByTimeAsync(3 * INTERVAL_MS);
    expect(read).toHaveBeenCalledTimes(5);
    expect((await samples(metrics)).get(`${METRIC.sessions}{status="RUNNING"}`)).toBe(5);
  });

  it('never overlaps refreshes: a slow one pushes the next back', async () => {
    let inFlight = 0;
    let most = 0;
    const read = jest.fn(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 40_000)); // longer than the interval
      inFlight--;
      return { waiting: 1 };
    });
    metrics.refreshInBackground('queueJobs', { read });
    refresher.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    expect(read).toHaveBeenCalledTimes(1);
    void refresher.refresh(); // asked for meanwhile: joins the one under way
    await jest.advanceTimersByTimeAsync(40_000 + INTERVAL_MS - 1);
    expect(read).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(read).toHaveBeenCalledTimes(2);
    expect(most).toBe(1);
  });

  it('logs a failing source at warn once per reason, keeps its last values, and logs its recovery', async () => {
    let failure: Error | undefined;
    metrics.refreshInBackground('plans', { read: async () => (failure ? Promise.reject(failure) : { RUNNING: 3 }) });
    refresher.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);

    failure = new Error('connect ECONNREFUSED 127.0.0.1:5432\n    at TCPConnectWrap');
    await jest.advanceTimersByTimeAsync(2 * INTERVAL_MS);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toBe(
      `${METRIC.plans} keeps its last values: reading it failed (connect ECONNREFUSED 127.0.0.1:5432 at TCPConnectWrap); next try in 15 s`,
    );
    expect((await samples(metrics)).get(`${METRIC.plans}{status="RUNNING"}`)).toBe(3);
    expect(metrics.aggregateAgeSeconds('plans')).toBe(30);

    failure = new Error('password authentication failed for user "postgres"');
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(warn).toHaveBeenCalledTimes(2);

    failure = undefined;
    await jest.advanceTimersByTimeAsync(INTERVAL_MS);
    expect(info).toHaveBeenCalledWith(`${METRIC.plans} is refreshed again`);
    expect(metrics.aggregateAgeSeconds('plans')).toBe(0);
  });

  it('stops with the module: waits for the refresh under way, then reads nothing more', async () => {
    let finish!: () => void;
    const read = jest.fn(() => new Promise<Record<string, number>>((resolve) => (finish = () => resolve({ READY: 1 }))));
    metrics.refreshInBackground('planTasks', { read });
    refresher.onApplicationBootstrap();
    await jest.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = refresher.onModuleDestroy().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    await jest.advanceTimersByTimeAsync(10 * INTERVAL_MS);
    expect(read).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });
});

import { METRIC, Metrics } from '@app/observability';
import { FairLockMetrics, lockKind } from './fair-lock-metrics';
import { scrapeSamples as samples } from '@app/observability/testing';


describe('FairLockMetrics', () => {
  it.each([
    ['session:3f2c', 'session'],
    ['workspace:/tmp/a:b', 'workspace'],
    ['plan:1', 'other'],
    ['nocolon', 'other'],
    ['', 'other'],
  ])('names the kind of lock %s %s', (resource, kind) => {
    expect(lockKind(resource)).toBe(kind);
  });

  it('starts lost leases and contention at 0 for every lock kind', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    new FairLockMetrics(metrics);
    const values = await samples(metrics);
    for (const kind of ['session', 'workspace', 'other']) {
      expect(values.get(`${METRIC.lockLost}{kind="${kind}"}`)).toBe(0);
      expect(values.get(`${METRIC.lockContention}{kind="${kind}"}`)).toBe(0);
    }
    expect(values.get(METRIC.lockDeadlocks)).toBe(0);
  });

  it('records lock answers by kind and outcome, contention and deadlock victims', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const observer = new FairLockMetrics(metrics);
    observer.acquired('session:a', 2, 'granted', false);
    observer.acquired('session:b', 1500, 'granted', true);
    observer.acquired('workspace:/w', 30_000, 'timeout', true);
    observer.acquired('x:y', 1000, 'deadlock', true);
    observer.lost('workspace:/w');
    const values = await samples(metrics);
    expect(values.get(`${METRIC.lockWait}_count{kind="session",outcome="granted"}`)).toBe(2);
    expect(values.get(`${METRIC.lockWait}_sum{kind="session",outcome="granted"}`)).toBeCloseTo(1.502);
    expect(values.get(`${METRIC.lockWait}_bucket{le="0.005",kind="session",outcome="granted"}`)).toBe(1);
    expect(values.get(`${METRIC.lockWait}_count{kind="workspace",outcome="timeout"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="session"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="workspace"}`)).toBe(1);
    expect(values.get(`${METRIC.lockContention}{kind="other"}`)).toBe(1);
    expect(values.get(METRIC.lockDeadlocks)).toBe(1);
    expect(values.get(`${METRIC.lockLost}{kind="workspace"}`)).toBe(1);
  });
});

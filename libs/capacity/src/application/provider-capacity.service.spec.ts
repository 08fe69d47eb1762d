import { AppConfig } from '@app/config';
import { FakeClock, InMemoryCapacityStore, InMemoryUsageWindows, RecordingCapacityMetrics } from '@app/capacity/testing';
import { ProviderCapacityService } from './provider-capacity.service';

const LIMITS = 'acme/*=concurrency:3,tpm:1000;acme/big=concurrency:1,rpm:2;other/m=rpm:5';

function setup(limits = LIMITS) {
  const clock = new FakeClock();
  const store = new InMemoryCapacityStore(clock);
  const windows = new InMemoryUsageWindows(clock);
  const metrics = new RecordingCapacityMetrics();
  const config = AppConfig.with({ PROVIDER_LIMITS: limits, PROVIDER_QUOTA_HOLD_MINUTES: '30' });
  const service = new ProviderCapacityService(store, windows, metrics, config, { now: clock.now, random: () => 0.5, permitTtlMs: 10_000 });
  return { clock, store, windows, metrics, service };
}

const admitted = (sessionId: string, model: string, rules: string[]) => ({ admitted: true, permit: { sessionId, model, rules } });

describe('ProviderCapacityService', () => {
  it('admits a model no rule covers, holding nothing', async () => {
    const { service } = setup();
    expect(await service.admit({ sessionId: 's1', model: 'free/m' })).toEqual(admitted('s1', 'free/m', []));
  });

  it('holds the model rule and the provider-wide bucket, all or nothing, and is idempotent per session', async () => {
    const { service, metrics } = setup();
    expect(await service.admit({ sessionId: 's1', model: 'acme/big' })).toEqual(admitted('s1', 'acme/big', ['acme/*', 'acme/big']));
    expect(await service.admit({ sessionId: 's1', model: 'acme/big' })).toEqual(admitted('s1', 'acme/big', ['acme/*', 'acme/big']));
    const refused = await service.admit({ sessionId: 's2', model: 'acme/big' });
    expect(refused).toMatchObject({ admitted: false, reason: 'concurrency', rule: 'acme/big' });
    // s2 took no slot of acme/*: two small models still fit beside s1
    expect((await service.admit({ sessionId: 's3', model: 'acme/small' })).admitted).toBe(true);
    expect((await service.admit({ sessionId: 's4', model: 'acme/small' })).admitted).toBe(true);
    expect(await service.admit({ sessionId: 's5', model: 'acme/small' })).toMatchObject({ reason: 'concurrency', rule: 'acme/*' });
    expect(metrics.throttles).toEqual([
      { model: 'acme/big', reason: 'concurrency' },
      { model: 'acme/small', reason: 'concurrency' },
    ]);
  });

  it('backs a concurrency refusal off 250 ms to 2 s, longer with more waiting', async () => {
    const { service } = setup('x/*=concurrency:1');
    await service.admit({ sessionId: 'holder', model: 'x/a' });
    const first = await service.admit({ sessionId: 'w0', model: 'x/a' });
    for (let i = 1; i < 20; i++) await service.admit({ sessionId: `w${i}`, model: 'x/a' });
    const crowded = await service.admit({ sessionId: 'w20', model: 'x/a' });
    const retry = (a: unknown) => (a as { retryInMs: number }).retryInMs;
    expect(retry(first)).toBeGreaterThanOrEqual(250);
    expect(retry(crowded)).toBeGreaterThan(retry(first));
    expect(retry(crowded)).toBeLessThanOrEqual(2_000);
  });

  it('frees slots on release, and when the holder stops renewing', async () => {
    const { service, clock } = setup('x/m=concurrency:1');
    const a = await service.admit({ sessionId: 'a', model: 'x/m' });
    expect((await service.admit({ sessionId: 'b', model: 'x/m' })).admitted).toBe(false);
    if (!a.admitted) throw new Error('a was refused');
    await service.release(a.permit);
    const b = await service.admit({ sessionId: 'b', model: 'x/m' });
    expect(b.admitted).toBe(true);
    clock.advance(8_000);
    if (b.admitted) await service.renew(b.permit);
    clock.advance(8_000);
    expect((await service.admit({ sessionId: 'c', model: 'x/m' })).admitted).toBe(false);
    clock.advance(3_000);
    expect((await service.admit({ sessionId: 'c', model: 'x/m' })).admitted).toBe(true);
  });

  it('counts a request per admission in rpm, refuses past it until the window resets, and gives back the slot', async () => {
    const { service, clock, store } = setup();
    const first = await service.admit({ sessionId: 'a', model: 'acme/big' });
    if (first.admitted) await service.release(first.permit);
    await service.recordStep('acme/big', 10, { firstStep: true });
    await service.recordStep('acme/big', 10);
    const refused = await service.admit({ sessionId: 'b', model: 'acme/big' });
    expect(refused).toMatchObject({ admitted: false, reason: 'rpm', rule: 'acme/big', retryInMs: 60_000 });
    expect((await store.occupancy(['acme/*', 'acme/big'])).get('acme/*')?.holders).toEqual([]);
    clock.advance(60_000);
    expect((await service.admit({ sessionId: 'b', model: 'acme/big' })).admitted).toBe(true);
  });

  it('refuses on tpm once recorded tokens fill the window, without counting the request', async () => {
    const { service, windows, clock } = setup('acme/*=tpm:1000,rpm:10');
    expect((await service.admit({ sessionId: 'a', model: 'acme/x' })).admitted).toBe(true);
    await service.recordStep('acme/x', 1_200, { firstStep: true });
    clock.advance(15_000);
    expect(await service.admit({ sessionId: 'b', model: 'acme/x' })).toMatchObject({ reason: 'tpm', rule: 'acme/*', retryInMs: 45_000 });
    expect((await windows.read('rpm', [{ pattern: 'acme/*', limit: 10 }]))[0].used).toBe(1);
  });

  it('cools a model down after a 429, escalating without Retry-After, for every session of it alone', async () => {
    const { service, clock, metrics } = setup();
    const wait = await service.rateLimited('acme/big');
    expect(wait).toBeGreaterThanOrEqual(1_000);
    expect(await service.admit({ sessionId: 'a', model: 'acme/big' })).toMatchObject({ admitted: false, reason: 'cooldown', rule: 'acme/big', retryInMs: 1_000 });
    expect((await service.admit({ sessionId: 'b', model: 'acme/small' })).admitted).toBe(true);
    clock.advance(1_000);
    expect(await service.rateLimited('acme/big')).toBeGreaterThanOrEqual(2_000);
    clock.advance(2_000);
    await service.rateLimited('acme/big');
    expect(await service.admit({ sessionId: 'a', model: 'acme/big' })).toMatchObject({ reason: 'cooldown', retryInMs: 4_000 });
    expect(metrics.rateLimits).toEqual(['acme/big', 'acme/big', 'acme/big']);
  });

  it('follows Retry-After, and a cooldown never shortens an unavailable mark', async () => {
    const { service, clock } = setup();
    await service.rateLimited('acme/big', 7_000);
    expect(await service.admit({ sessionId: 'a', model: 'acme/big' })).toMatchObject({ reason: 'cooldown', retryInMs: 7_000 });
    const until = await service.quotaExhausted('acme/big', undefined, 'monthly quota');
    expect(until.getTime()).toBe(clock.now() + 30 * 60_000);
    await service.rateLimited('acme/big', 1_000);
    expect(await service.admit({ sessionId: 'a', model: 'acme/big' })).toMatchObject({ reason: 'unavailable', until, message: expect.stringContaining('monthly quota') });
  });

  it('lists the usable models, reports status, and lets an operator lift a mark', async () => {
    const { service, metrics } = setup();
    const until = new Date(Date.parse('2025-01-01T02:00:00Z'));
    await service.quotaExhausted('acme/big', until, 'billing');
    await service.rateLimited('other/m', 5_000);
    expect(await service.usable(['other/m', 'acme/small', 'acme/big', 'free/x'])).toEqual(['acme/small', 'free/x']);
    await service.admit({ sessionId: 's', model: 'acme/small' });
    await service.recordStep('acme/small', 300, { firstStep: true });
    const status = await service.status();
    expect(status.rules).toEqual([
      { pattern: 'acme/*', concurrency: { limit: 3, inUse: 1, holders: ['s'], waiting: 0 }, tpm: { limit: 1000, used: 300, resetInMs: 60_000 } },
      { pattern: 'acme/big', concurrency: { limit: 1, inUse: 0, holders: [], waiting: 0 }, rpm: { limit: 2, used: 0, resetInMs: 0 } },
      { pattern: 'other/m', rpm: { limit: 5, used: 0, resetInMs: 0 } },
    ]);
    expect(status.marks.map((m) => [m.model, m.kind])).toEqual([['acme/big', 'unavailable'], ['other/m', 'cooldown']]);
    expect(await service.clearMark('acme/big')).toBe(true);
    expect(await service.clearMark('acme/big')).toBe(false);
    expect(await service.usable(['acme/big'])).toEqual(['acme/big']);
    expect(metrics.quotaExhaustions).toEqual(['acme/big']);
  });
});

import { setTimeout as sleep } from 'node:timers/promises';
import { INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ConfigModule } from '@app/config';
import { RedisModule } from '@app/platform';
import { testConfig } from '../../../../../test/support/database';
import { CAPACITY_OPTIONS, ProviderCapacityService } from '../../application/provider-capacity.service';
import type { Admission, CapacityPermit } from '../../domain/capacity';
import { CapacityErrorCode } from '../../domain/capacity.errors';
import { CapacityApiModule } from '../http/capacity-api.module';
import { CapacityController } from '../http/capacity.controller';

const PERMIT_TTL_MS = 400;
const LIMITS = [
  'pair/m=concurrency:2',
  'ttl/m=concurrency:1',
  'wide/*=concurrency:2',
  'wide/a=concurrency:1',
  'rate/m=rpm:2',
  'tok/m=tpm:1000',
  'cool/*=concurrency:5',
].join(';');

/** The capacity context as a process wires it (CapacityApiModule over the app's Redis), on this file's queue prefix. */
describe('ProviderCapacityService (real Redis)', () => {
  let app: INestApplicationContext;
  let capacity: ProviderCapacityService;
  let controller: CapacityController;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(testConfig({ PROVIDER_LIMITS: LIMITS })), RedisModule, CapacityApiModule],
    })
      .overrideProvider(CAPACITY_OPTIONS)
      .useValue({ permitTtlMs: PERMIT_TTL_MS })
      .compile();
    app = await moduleRef.init();
    capacity = app.get(ProviderCapacityService);
    controller = app.get(CapacityController);
  });

  afterAll(() => app?.close());

  const admit = (sessionId: string, model: string) => capacity.admit({ sessionId, model });
  const permitOf = (admission: Admission): CapacityPermit => {
    if (!admission.admitted) throw new Error(`refused: ${admission.message}`);
    return admission.permit;
  };

  it('admits two sessions under concurrency 2, refuses a third, and lets it in on a release', async () => {
    const first = permitOf(await admit('p1', 'pair/m'));
    permitOf(await admit('p2', 'pair/m'));
    expect(first.rules).toEqual(['pair/m']);
    expect(await admit('p1', 'pair/m')).toEqual({ admitted: true, permit: first });
    const refused = await admit('p3', 'pair/m');
    expect(refused).toMatchObject({ admitted: false, reason: 'concurrency', rule: 'pair/m' });
    expect(refused.admitted === false && refused.retryInMs).toBeGreaterThanOrEqual(250);
    await capacity.release(first);
    permitOf(await admit('p3', 'pair/m'));
  });

  it('frees a hold its holder stops renewing, after the TTL', async () => {
    const held = permitOf(await admit('t1', 'ttl/m'));
    await sleep(PERMIT_TTL_MS * 0.6);
    await capacity.renew(held);
    await sleep(PERMIT_TTL_MS * 0.6);
    expect(await admit('t2', 'ttl/m')).toMatchObject({ admitted: false, reason: 'concurrency' });
    await sleep(PERMIT_TTL_MS * 0.6);
    permitOf(await admit('t2', 'ttl/m'));
  });

  it('holds a model-scoped rule and a provider-wide rule together', async () => {
    const a1 = permitOf(await admit('a1', 'wide/a'));
    expect(a1.rules).toEqual(['wide/*', 'wide/a']);
    expect(await admit('a2', 'wide/a')).toMatchObject({ admitted: false, reason: 'concurrency', rule: 'wide/a' });
    permitOf(await admit('b1', 'wide/b'));
    expect(await admit('b2', 'wide/b')).toMatchObject({ admitted: false, reason: 'concurrency', rule: 'wide/*' });
    await capacity.release(a1);
    permitOf(await admit('b2', 'wide/b'));
  });

  it('refuses past rpm until the window resets, and past tpm once steps pushed tokens over it', async () => {
    await capacity.release(permitOf(await admit('r1', 'rate/m')));
    await capacity.release(permitOf(await admit('r2', 'rate/m')));
    const refused = await admit('r3', 'rate/m');
    expect(refused).toMatchObject({ admitted: false, reason: 'rpm', rule: 'rate/m' });
    if (refused.admitted) return;
    expect(refused.retryInMs).toBeGreaterThan(0);
    expect(refused.retryInMs).toBeLessThanOrEqual(60_000);

    permitOf(await admit('k1', 'tok/m'));
    await capacity.recordStep('tok/m', 600, { firstStep: true });
    permitOf(await admit('k2', 'tok/m'));
    await capacity.recordStep('tok/m', 600);
    expect(await admit('k3', 'tok/m')).toMatchObject({ admitted: false, reason: 'tpm', rule: 'tok/m' });

    const status = await capacity.status();
    expect(status.rules.find((r) => r.pattern === 'rate/m')?.rpm).toMatchObject({ limit: 2, used: 2 });
    expect(status.rules.find((r) => r.pattern === 'tok/m')?.tpm).toMatchObject({ limit: 1000, used: 1000 });
  });

  it('cools a model down after a 429 for its sessions alone, marks a model unavailable on quota, and lets an operator lift it', async () => {
    const wait = await capacity.rateLimited('cool/a');
    expect(wait).toBeGreaterThanOrEqual(800);
    expect(await admit('c1', 'cool/a')).toMatchObject({ admitted: false, reason: 'cooldown', rule: 'cool/a' });
    permitOf(await admit('c2', 'cool/b'));

    const until = new Date(Date.now() + 10 * 60_000);
    expect(await capacity.quotaExhausted('gone/m', until, 'monthly quota')).toEqual(until);
    expect(await admit('g1', 'gone/m')).toMatchObject({ admitted: false, reason: 'unavailable', rule: 'gone/m', until });
    expect(await capacity.usable(['gone/m', 'cool/b', 'cool/a', 'free/x'])).toEqual(['cool/b', 'free/x']);
    expect((await controller.status()).marks).toEqual([
      expect.objectContaining({ model: 'cool/a', kind: 'cooldown' }),
      { model: 'gone/m', kind: 'unavailable', until: until.toISOString(), why: 'monthly quota' },
    ]);

    await controller.clearMark({ model: 'gone/m' });
    await expect(controller.clearMark({ model: 'gone/m' })).rejects.toMatchObject({ code: CapacityErrorCode.CAPACITY_MARK_NOT_FOUND });
    permitOf(await admit('g1', 'gone/m'));
    expect(await capacity.usable(['gone/m'])).toEqual(['gone/m']);
  });
});

import { randomUUID } from 'node:crypto';
import { ZERO_USAGE } from '@app/shared';
import { Global, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { openTestDataSource } from '../../../../../test/support/database';
import { SpendingService, type RunScopes } from '../../application/spending.service';
import { SpendingModule } from '../../spending.module';
import { ManualSpendingClock, RecordingSpendingMetrics } from '../../testing';
import { SqlSpendingLedger } from './sql-spending-ledger';

const usage = (tokens: number, costUsd: number) => ({ ...ZERO_USAGE, inputTokens: tokens, costUsd });

describe('SqlSpendingLedger with SpendingService (real PostgreSQL)', () => {
  let dataSource: DataSource;
  let ledger: SqlSpendingLedger;
  const clock = new ManualSpendingClock(new Date('2026-01-15T12:00:00Z'));
  let metrics: RecordingSpendingMetrics;
  let service: SpendingService;

  const scopes = (over: Partial<RunScopes> = {}): RunScopes => ({
    sessionId: randomUUID(),
    attempt: 1,
    sessionBudget: null,
    planId: randomUUID(),
    agentId: randomUUID(),
    keyId: randomUUID(),
    agentName: 'coder',
    role: 'IMPLEMENTER',
    model: 'provider/model',
    ...over,
  });

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    ledger = new SqlSpendingLedger(dataSource);
  });
  beforeEach(() => {
    metrics = new RecordingSpendingMetrics();
    service = new SpendingService(ledger, metrics, clock.read);
  });
  afterAll(() => dataSource.destroy());

  it('stores limits, replaces them, and deletes them with null', async () => {
    const planId = randomUUID();
    await service.setLimit('PLAN', planId, { maxCostUsd: 2, maxTokens: undefined });
    expect((await ledger.standing({ sessionId: randomUUID(), attempt: 1 }, [{ scope: 'PLAN', scopeId: planId, day: '1970-01-01' }])).rows[0]!.budget).toEqual({ maxCostUsd: 2 });
    await service.setLimit('PLAN', planId, { maxTokens: 500 });
    const read = async () => dataSource.query(`SELECT budget FROM spend_limits WHERE scope = 'PLAN' AND scope_id = $1`, [planId]);
    expect(await read()).toEqual([{ budget: { maxTokens: 500 } }]);
    await service.setLimit('PLAN', planId, null);
    expect(await read()).toEqual([]);
  });

  it('adds only increases: the same total again, or a resumed run of the attempt, counts nothing twice', async () => {
    const run = scopes();
    const tracker = await service.openRun(run);
    await tracker.update(usage(100, 0.2), 30_000);
    await tracker.update(usage(100, 0.2), 30_000);
    const resumed = await service.openRun(run);
    await resumed.update(usage(100, 0.2), 30_000);
    await resumed.update(usage(160, 0.25), 60_000);
    // Two workers reporting the same total at once: the attempt's row lock lets one count it.
    const other = await service.openRun(run);
    await Promise.all([tracker.update(usage(200, 0.3), 90_000), other.update(usage(200, 0.3), 90_000)]);

    for (const [scope, id] of [['SESSION', run.sessionId], ['PLAN', run.planId!], ['AGENT', run.agentId!], ['KEY', run.keyId!]] as const) {
      const spent = (await service.spentBy(scope, [id])).get(id)!;
      expect({ scope, tokens: spent.tokens, minutes: spent.minutes }).toEqual({ scope, tokens: 200, minutes: 1.5 });
      expect(spent.costUsd).toBeCloseTo(0.3);
    }
    expect(metrics.spending.map((s) => s.increase.tokens)).toEqual([100, 60, 40]);
  });

  it('sums plan, agent and key rows over sessions, and reports an agent budget reached with its message', async () => {
    const shared = scopes();
    await service.setLimit('AGENT', shared.agentId!, { maxCostUsd: 1 });
    const a = await service.openRun(shared);
    const b = await service.openRun({ ...shared, sessionId: randomUUID() });
    expect((await a.update(usage(10, 0.6), 0)).exceeded).toBeNull();
    const breach = await b.update(usage(20, 0.45), 0);
    expect(breach.exceeded).toMatchObject({ scope: 'AGENT', scopeId: shared.agentId, limit: 'maxCostUsd', budget: { maxCostUsd: 1 } });
    expect(breach.exceeded!.message).toBe(`agent ${shared.agentId!.slice(0, 8)}… daily budget maxCostUsd 1.00 USD reached (1.05 USD spent)`);
    expect(breach.exceeded!.spent.costUsd).toBeCloseTo(1.05);
    for (const [scope, id] of [['PLAN', shared.planId!], ['AGENT', shared.agentId!], ['KEY', shared.keyId!]] as const) {
      expect((await service.spentBy(scope, [id])).get(id)!.tokens).toBe(30);
    }
    // A new run of the agent must not start.
    expect((await service.openRun({ ...shared, sessionId: randomUUID() })).opening.exceeded).toMatchObject({ scope: 'AGENT' });
  });

  it('reports a warning once, when a key budget crosses 80%, and not on the next update', async () => {
    const run = scopes();
    await service.setLimit('KEY', run.keyId!, { maxTokens: 1000 });
    const tracker = await service.openRun(run);
    expect((await tracker.update(usage(500, 0), 0)).warnings).toEqual([]);
    const crossing = await tracker.update(usage(850, 0), 0);
    expect(crossing.warnings).toEqual([expect.objectContaining({ scope: 'KEY', scopeId: run.keyId, limit: 'maxTokens', ratio: 0.85 })]);
    expect((await tracker.update(usage(900, 0), 0)).warnings).toEqual([]);
    expect(metrics.events).toEqual([{ scope: 'KEY', event: 'warning' }]);
    expect((await service.openRun({ ...run, sessionId: randomUUID() })).opening.warnings.map((w) => w.scope)).toEqual(['KEY']);
  });

  it("judges the session budget on the attempt's own total", async () => {
    const first = scopes({ sessionBudget: { maxTokens: 100 } });
    await (await service.openRun(first)).update(usage(90, 0), 0);
    // Attempt 2 of the same session: the session row holds 90, the attempt nothing yet.
    const second = await service.openRun({ ...first, attempt: 2 });
    expect(second.opening).toEqual({ exceeded: null, warnings: [] });
    expect((await second.update(usage(60, 0), 0)).exceeded).toBeNull();
    expect((await service.spentBy('SESSION', [first.sessionId])).get(first.sessionId)!.tokens).toBe(150);
    const breach = await second.update(usage(100, 0), 0);
    expect(breach.exceeded).toMatchObject({ scope: 'SESSION', message: `session ${first.sessionId.slice(0, 8)}… budget maxTokens 100 tokens reached (100 tokens spent)` });
  });

  it('counts daily scopes on the UTC day of each update, and reads today or another day', async () => {
    const run = scopes();
    clock.now = new Date('2026-01-15T23:59:00Z');
    const tracker = await service.openRun(run);
    await tracker.update(usage(10, 0.1), 60_000);
    clock.advance(2 * 60_000);
    await tracker.update(usage(25, 0.1), 180_000);
    const unknown = randomUUID();

    const today = await service.spentBy('AGENT', [run.agentId!, unknown]);
    expect(today.get(run.agentId!)).toEqual({ tokens: 15, costUsd: 0, minutes: 2 });
    expect(today.get(unknown)).toEqual({ tokens: 0, costUsd: 0, minutes: 0 });
    expect((await service.spentBy('KEY', [run.keyId!], '2026-01-15')).get(run.keyId!)).toEqual({ tokens: 10, costUsd: 0.1, minutes: 1 });
    // Plans count for all time whatever the day asked.
    expect((await service.spentBy('PLAN', [run.planId!], '2026-01-15')).get(run.planId!)!.tokens).toBe(25);
  });

  it('SpendingModule wires the service to this ledger', async () => {
    @Global()
    @Module({ providers: [{ provide: getDataSourceToken(), useValue: dataSource }], exports: [getDataSourceToken()] })
    class TestDataSourceModule {}
    const moduleRef = await Test.createTestingModule({ imports: [TestDataSourceModule, SpendingModule] }).compile();
    const wired = moduleRef.get(SpendingService);
    const planId = randomUUID();
    await wired.setLimit('PLAN', planId, { maxTokens: 10 });
    const tracker = await wired.openRun(scopes({ planId }));
    expect((await tracker.update(usage(10, 0), 0)).exceeded).toMatchObject({ scope: 'PLAN', scopeId: planId });
    await expect(wired.setLimit('KEY', 'k', { maxTokens: -1 })).rejects.toThrow(RangeError);
    await moduleRef.close();
  });
});

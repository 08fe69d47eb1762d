import { randomUUID } from 'node:crypto';
import { WRITING_TOOLS } from '../domain/agent';
import { AgentRole } from '../domain/agent-role';
import { AgentErrorCode } from '../domain/agent.errors';
import { AgentRun, PerformanceTier, TIER_THRESHOLDS } from '../domain/performance';
import { AgentService, ROUTING_LOAD_TTL_MS, ROUTING_SNAPSHOT_TTL_MS } from './agent.service';
import { InMemoryAgentPerformance, InMemoryAgentRepository, InMemorySpendLimits } from '@app/agent/testing';

const implementer = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  role: AgentRole.IMPLEMENTER,
  capabilities: [{ skill: 'typescript', level: 4 }],
  ...extra,
});

const run = (agentId: string, outcome: AgentRun['outcome'], minutesAgo: number, qualityScore: number | null = null): AgentRun => ({
  agentId,
  sessionId: randomUUID(),
  attempt: 1,
  outcome,
  durationMs: 1000,
  inputTokens: 10,
  outputTokens: 10,
  costUsd: 0.1,
  qualityScore,
  finishedAt: new Date(Date.now() - minutesAgo * 60_000),
});

describe('AgentService', () => {
  let repo: InMemoryAgentRepository;
  let perf: InMemoryAgentPerformance;
  let spendLimits: InMemorySpendLimits;
  let service: AgentService;

  beforeEach(() => {
    repo = new InMemoryAgentRepository();
    perf = new InMemoryAgentPerformance(repo);
    spendLimits = new InMemorySpendLimits();
    service = new AgentService(repo, perf, spendLimits);
  });
  afterEach(() => jest.useRealTimers());

  describe('the catalogue', () => {
    it('creates with defaults by role, reads, lists by role and enabled, and refuses a taken name', async () => {
      const reviewer = await service.create({ name: 'rev', role: AgentRole.REVIEWER, capabilities: [] });
      expect(reviewer.binding).toMatchObject({ opencodeAgent: 'plan', model: null, disabledTools: [...WRITING_TOOLS].sort() });
      expect(reviewer.maxConcurrentSessions).toBe(5);
      const impl = await service.create(implementer('impl', { enabled: false }));
      expect(impl.binding.opencodeAgent).toBe('build');
      expect((await service.get(impl.id)).name).toBe('impl');
      expect((await service.list({ role: AgentRole.REVIEWER })).map((a) => a.name)).toEqual(['rev']);
      expect((await service.list({ enabled: false })).map((a) => a.name)).toEqual(['impl']);
      await expect(service.create(implementer('IMPL'))).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NAME_TAKEN });
      await expect(service.create(implementer('bad', { capabilities: [{ skill: 'ts', level: 6 }] }))).rejects.toMatchObject({
        code: AgentErrorCode.AGENT_INVALID,
      });
    });

    it('updates with the version read, bumps it, and refuses a stale version', async () => {
      const a = await service.create(implementer('impl'));
      const updated = await service.update(a.id, 1, { maxConcurrentSessions: 2, binding: { model: 'anthropic/claude' } });
      expect(updated.version).toBe(2);
      expect(updated.binding).toMatchObject({ model: 'anthropic/claude', opencodeAgent: 'build' });
      await expect(service.update(a.id, 1, { enabled: false })).rejects.toMatchObject({ code: AgentErrorCode.AGENT_VERSION_CONFLICT });
      expect((await service.get(a.id)).enabled).toBe(true);
    });

    it('soft-deletes: the agent is gone for reads and its name is free', async () => {
      const a = await service.create(implementer('impl'));
      await service.delete(a.id);
      await expect(service.get(a.id)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NOT_FOUND });
      await expect(service.delete(a.id)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NOT_FOUND });
      await expect(service.update(a.id, 1, {})).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NOT_FOUND });
      await expect(service.create(implementer('impl'))).resolves.toBeDefined();
    });

    it('creates with fallback models, max steps and a budget, and mirrors the budget to the spending context', async () => {
      const a = await service.create(
        implementer('impl', { binding: { model: 'anthropic/claude', fallbackModels: ['openai/gpt-5'], maxSteps: 30 }, budget: { maxCostUsd: 5 } }),
      );
      expect(a.binding).toMatchObject({ model: 'anthropic/claude', fallbackModels: ['openai/gpt-5'], maxSteps: 30 });
      expect(repo.rows.get(a.id)!.budget).toEqual({ maxCostUsd: 5 });
      expect(spendLimits.calls).toEqual([{ agentId: a.id, budget: { maxCostUsd: 5 } }]);
      const plain = await service.create(implementer('plain'));
      expect(plain.binding).toMatchObject({ fallbackModels: [], maxSteps: null });
      expect(plain.budget).toBeNull();
      expect(spendLimits.calls).toHaveLength(1);
    });

    it('mirrors a budget after each update that names one, never after a refused one', async () => {
      const a = await service.create(implementer('impl'));
      await service.update(a.id, 1, { maxConcurrentSessions: 2 });
      expect(spendLimits.calls).toEqual([]);
      await service.update(a.id, 2, { budget: { maxTokens: 1000, maxCostUsd: undefined } });
      expect(spendLimits.calls).toEqual([{ agentId: a.id, budget: { maxTokens: 1000 } }]);
      await expect(service.update(a.id, 2, { budget: null })).rejects.toMatchObject({ code: AgentErrorCode.AGENT_VERSION_CONFLICT });
      await expect(service.update(a.id, 3, { budget: { maxCostUsd: 0 } })).rejects.toMatchObject({
        code: AgentErrorCode.AGENT_INVALID,
        details: { field: 'budget.maxCostUsd' },
      });
      expect(spendLimits.calls).toHaveLength(1);
      await service.update(a.id, 3, { budget: null });
      expect(spendLimits.calls[1]).toEqual({ agentId: a.id, budget: null });
      expect((await service.get(a.id)).budget).toBeNull();
    });

    it("reads today's spend, zero for an agent that spent nothing", async () => {
      spendLimits.spent.set('a', { tokens: 5, costUsd: 1, minutes: 3 });
      const spent = await service.spentToday(['a', 'b']);
      expect(spent.get('a')).toEqual({ tokens: 5, costUsd: 1, minutes: 3 });
      expect(spent.get('b')).toEqual({ tokens: 0, costUsd: 0, minutes: 0 });
    });

    it('refuses a disabled agent where an enabled one is needed', async () => {
      const a = await service.create(implementer('impl', { enabled: false }));
      await expect(service.getEnabled(a.id)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_DISABLED });
    });
  });

  describe('performance', () => {
    it('gives both windows, the tier from the last 50 counted runs, and the thresholds', async () => {
      const a = await service.create(implementer('impl'));
      for (let i = 0; i < 10; i++) await service.recordRun(run(a.id, 'COMPLETED', i, 9));
      await service.recordRun(run(a.id, 'CANCELLED', 0));
      await service.recordRun(run(a.id, 'FAILED', 100));
      const p = await service.performance(a.id, 5);
      expect(p).toMatchObject({ agentId: a.id, lastN: 5, thresholds: TIER_THRESHOLDS });
      expect(p.recent).toMatchObject({ runs: 5, successes: 5 });
      expect(p.allTime).toMatchObject({ runs: 11, successes: 10 });
      // 10 of 11 = 0.909: GOLD needs 0.85, PLATINUM 20 runs
      expect(p.tier).toBe(PerformanceTier.GOLD);
      await expect(service.performance(a.id, 0)).rejects.toMatchObject({ code: AgentErrorCode.AGENT_INVALID });
      await expect(service.performance(randomUUID())).rejects.toMatchObject({ code: AgentErrorCode.AGENT_NOT_FOUND });
    });

    it('records a run once per session attempt and credits a later quality score', async () => {
      const a = await service.create(implementer('impl'));
      const r = run(a.id, 'COMPLETED', 1);
      expect(await service.recordRun(r)).toBe(true);
      expect(await service.recordRun(r)).toBe(false);
      expect(await service.recordQuality(r.sessionId, 8)).toBe(true);
      expect(await service.recordQuality(randomUUID(), 8)).toBe(false);
      expect((await service.performance(a.id)).allTime).toMatchObject({ runs: 1, scoredRuns: 1, meanQuality: 8 });
      await expect(service.recordRun({ ...r, attempt: 0 })).rejects.toMatchObject({ code: AgentErrorCode.AGENT_INVALID });
    });
  });

  describe('routing', () => {
    it('ranks over the snapshot with the live load, and lists the skipped agents with reasons', async () => {
      const strong = await service.create(implementer('strong', { capabilities: [{ skill: 'typescript', level: 5 }] }));
      const busy = await service.create(implementer('busy', { maxConcurrentSessions: 1 }));
      await service.create(implementer('off', { enabled: false }));
      await service.create({ name: 'rev', role: AgentRole.REVIEWER, capabilities: [{ skill: 'typescript', level: 5 }] });
      const weak = await service.create(implementer('weak', { capabilities: [{ skill: 'typescript', level: 1 }] }));
      perf.active.set(busy.id, 1);
      perf.active.set(weak.id, 0);
      const decision = await service.route({ role: AgentRole.IMPLEMENTER, skills: ['typescript'], complexity: 9 });
      expect(decision.ranked.map((r) => r.name)).toEqual(['strong', 'weak']);
      expect(decision.ranked[0].parts.load.why).toBe('0 of 5 session slots in use');
      expect(decision.skipped.map((s) => [s.name, s.reason])).toEqual([
        ['busy', 'SATURATED'],
        ['off', 'DISABLED'],
        ['rev', 'ROLE_MISMATCH'],
      ]);
      expect((await service.pick({ skills: ['typescript'], complexity: 9, role: AgentRole.IMPLEMENTER })).id).toBe(strong.id);
      await expect(service.route({ skills: ['Not A Tag'], complexity: 3 })).rejects.toMatchObject({ code: AgentErrorCode.AGENT_INVALID });
      await expect(service.route({ skills: [], complexity: 11 })).rejects.toMatchObject({ code: AgentErrorCode.AGENT_INVALID });
    });

    it('throws NO_ELIGIBLE_AGENT naming the work and why each agent was skipped', async () => {
      await service.create(implementer('pythonless'));
      await service.create(implementer('off', { enabled: false }));
      const error = await service.pick({ role: AgentRole.IMPLEMENTER, skills: ['python'], complexity: 3 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: AgentErrorCode.NO_ELIGIBLE_AGENT, details: { role: 'IMPLEMENTER', skills: ['python'] } });
      const message = (error as Error).message;
      expect(message).toContain('role IMPLEMENTER, skills python');
      expect(message).toContain('off: DISABLED (the agent is disabled)');
      expect(message).toContain('pythonless: NO_SKILL_MATCH (has none of python)');
      const empty = new InMemoryAgentRepository();
      const none = new AgentService(empty, new InMemoryAgentPerformance(empty), new InMemorySpendLimits());
      await expect(none.pick({ skills: [], complexity: 1 })).rejects.toThrow(/there are no agents/);
    });

    it('reuses the snapshot and the load, refreshes them in the background when old, and rereads agents after agent writes', async () => {
      jest.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z'), doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
      const settle = () => new Promise((r) => setImmediate(r));
      const a = await service.create(implementer('a'));
      const work = { skills: ['typescript'], complexity: 3 };
      const activeReads = jest.spyOn(perf, 'activeSessions');

      await service.route(work);
      await service.route(work);
      expect(perf.snapshotReads).toBe(1);
      expect(activeReads).toHaveBeenCalledTimes(1);

      // The load is refreshed in the background once older than ROUTING_LOAD_TTL_MS.
      perf.active.set(a.id, 5);
      jest.advanceTimersByTime(ROUTING_LOAD_TTL_MS);
      expect((await service.route(work)).skipped).toEqual([]); // served at once, from the old load
      await settle();
      expect((await service.route(work)).skipped.map((s) => s.reason)).toEqual(['SATURATED']);
      perf.active.clear();

      jest.advanceTimersByTime(ROUTING_SNAPSHOT_TTL_MS);
      await service.route(work);
      await settle();
      expect(perf.snapshotReads).toBe(2);

      // Agent writes: the next decision waits for a fresh read.
      for (const write of [
        () => service.update(a.id, a.version, {}).then((x) => (a.persisted(x.version), x)),
        () => service.create(implementer(`b${randomUUID().slice(0, 4)}`)),
      ]) {
        const before = perf.snapshotReads;
        await write();
        await service.route(work);
        expect(perf.snapshotReads).toBe(before + 1);
      }
      // Recorded runs and scores: refreshed in the background, no decision waits.
      for (const write of [() => service.recordRun(run(a.id, 'FAILED', 1)), () => service.recordQuality(randomUUID(), 5)]) {
        const before = perf.snapshotReads;
        await write();
        await service.route(work);
        await settle();
        expect(perf.snapshotReads).toBe(before + 1);
      }
      // A disable takes effect at the next route, not a second later.
      await service.update(a.id, a.version, { enabled: false });
      expect((await service.route(work)).skipped.find((s) => s.agentId === a.id)?.reason).toBe('DISABLED');
      await service.delete(a.id);
      expect((await service.route(work)).skipped.find((s) => s.agentId === a.id)).toBeUndefined();
    });
  });
});

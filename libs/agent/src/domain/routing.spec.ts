import { AgentRole } from './agent-role';
import { EMPTY_SUMMARY, PerformanceSummary, PerformanceTier } from './performance';
import { rankAgents, requiredLevel, ROUTING_WEIGHTS, RoutingCandidate } from './routing';

function candidate(
  name: string,
  options: { role?: AgentRole; skills?: Record<string, number>; recent?: Partial<PerformanceSummary>; active?: number; max?: number; enabled?: boolean } = {},
): RoutingCandidate {
  return {
    agent: {
      id: `id-${name}`,
      name,
      role: options.role ?? AgentRole.IMPLEMENTER,
      enabled: options.enabled ?? true,
      maxConcurrentSessions: options.max ?? 4,
      capabilities: Object.entries(options.skills ?? { typescript: 3 }).map(([skill, level]) => ({ skill, level })),
    },
    recent: { ...EMPTY_SUMMARY, ...options.recent },
    activeSessions: options.active ?? 0,
  };
}

describe('rankAgents', () => {
  it('weights sum to 1', () => {
    expect(Object.values(ROUTING_WEIGHTS).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
  });

  it('maps complexity to the skill level needed', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map(requiredLevel)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
  });

  it('computes each part from known inputs', () => {
    const c = candidate('a', {
      skills: { typescript: 2, sql: 4 },
      recent: { runs: 10, successes: 9, successRate: 0.9, meanQuality: 8, scoredRuns: 5, costPerSuccessUsd: 0.2 },
      active: 1,
      max: 4,
    });
    const [ranked] = rankAgents({ skills: ['typescript', 'sql'], complexity: 8 }, [c]).ranked;
    // complexity 8 needs level 4: typescript 2/4, sql 4/4 → 0.75
    expect(ranked.parts.skill.value).toBe(0.75);
    // (9 + 0.8 x 5) / (10 + 5)
    expect(ranked.parts.successRate.value).toBeCloseTo(13 / 15, 6);
    // (8 x 5 + 7 x 5) / 10 / 10
    expect(ranked.parts.quality.value).toBe(0.75);
    // 10 runs, 0.9 success, quality 8 → GOLD (PLATINUM needs 20 runs)
    expect(ranked.tier).toBe(PerformanceTier.GOLD);
    expect(ranked.parts.tier.value).toBe(0.75);
    // the only candidate with a cost is the median: ref / (ref + cost) = 0.5
    expect(ranked.parts.cost.value).toBe(0.5);
    expect(ranked.parts.load.value).toBe(0.75);
    const sum = Object.values(ranked.parts).reduce((s, p) => s + p.value * p.weight, 0);
    expect(ranked.score).toBeCloseTo(sum, 5);
    expect(ranked.parts.skill.why).toContain('typescript:2, sql:4 against level 4');
  });

  it('prefers the better skill match, then the better record, and a cheaper success', () => {
    const expert = candidate('expert', { skills: { typescript: 5 } });
    const novice = candidate('novice', { skills: { typescript: 1 } });
    expect(rankAgents({ skills: ['typescript'], complexity: 9 }, [novice, expert]).ranked.map((r) => r.name)).toEqual(['expert', 'novice']);

    const reliable = candidate('reliable', { recent: { runs: 30, successes: 29, successRate: 29 / 30, costPerSuccessUsd: 0.1 } });
    const flaky = candidate('flaky', { recent: { runs: 30, successes: 15, successRate: 0.5, costPerSuccessUsd: 0.4 } });
    const decision = rankAgents({ skills: ['typescript'], complexity: 3 }, [flaky, reliable]);
    expect(decision.ranked.map((r) => r.name)).toEqual(['reliable', 'flaky']);
    expect(decision.ranked[0].parts.cost.value).toBeGreaterThan(decision.ranked[1].parts.cost.value);
  });

  it('skips disabled, wrong-role, saturated and skill-less agents with the reason', () => {
    const decision = rankAgents({ role: AgentRole.IMPLEMENTER, skills: ['typescript'], complexity: 5 }, [
      candidate('off', { enabled: false }),
      candidate('reviewer', { role: AgentRole.REVIEWER }),
      candidate('busy', { active: 2, max: 2 }),
      candidate('pythonist', { skills: { python: 5 } }),
      candidate('ok'),
    ]);
    expect(decision.ranked.map((r) => r.name)).toEqual(['ok']);
    expect(decision.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['busy', 'SATURATED'],
      ['off', 'DISABLED'],
      ['pythonist', 'NO_SKILL_MATCH'],
      ['reviewer', 'ROLE_MISMATCH'],
    ]);
    expect(decision.skipped[0].why).toBe('2 active sessions of at most 2');
  });

  it('breaks ties by name, then id, whatever the input order', () => {
    const twins = [candidate('b'), candidate('a'), { ...candidate('a'), agent: { ...candidate('a').agent, id: 'id-a0' } }];
    const forward = rankAgents({ skills: [], complexity: 5 }, twins).ranked.map((r) => r.agentId);
    const backward = rankAgents({ skills: [], complexity: 5 }, [...twins].reverse()).ranked.map((r) => r.agentId);
    expect(forward).toEqual(['id-a', 'id-a0', 'id-b']);
    expect(backward).toEqual(forward);
  });

  it('treats no skills asked as a full match, and a new agent as neutral', () => {
    const [ranked] = rankAgents({ skills: [], complexity: 1 }, [candidate('new')]).ranked;
    expect(ranked.parts.skill.value).toBe(1);
    expect(ranked.tier).toBe(PerformanceTier.SILVER);
    expect(ranked.parts.successRate.value).toBe(0.8);
    expect(ranked.parts.quality.value).toBe(0.7);
    expect(ranked.parts.cost.value).toBe(0.5);
  });

  it("explain 'best' picks exactly the first of the full ranking, over many random cases", () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const roles = Object.values(AgentRole);
    const skills = ['typescript', 'sql', 'security', 'react', 'go'];
    for (let round = 0; round < 200; round++) {
      const candidates = Array.from({ length: 30 }, (_, i) =>
        candidate(`a${Math.floor(rnd() * 10)}`, {
          role: roles[Math.floor(rnd() * roles.length)],
          skills: Object.fromEntries(skills.filter(() => rnd() < 0.5).map((s) => [s, 1 + Math.floor(rnd() * 5)])),
          recent: { runs: Math.floor(rnd() * 30), successes: 0, scoredRuns: Math.floor(rnd() * 5), meanQuality: rnd() * 10, costPerSuccessUsd: rnd() < 0.3 ? null : rnd() },
          active: Math.floor(rnd() * 3),
          max: 1 + Math.floor(rnd() * 3),
          enabled: rnd() < 0.9,
        }),
      ).map((c, i) => ({ ...c, agent: { ...c.agent, id: `id-${i}` }, recent: { ...c.recent, successes: Math.floor(c.recent.runs * rnd()) } }));
      const work = { role: rnd() < 0.5 ? roles[Math.floor(rnd() * roles.length)] : undefined, skills: skills.filter(() => rnd() < 0.4), complexity: 1 + Math.floor(rnd() * 10) };
      const full = rankAgents(work, candidates);
      const best = rankAgents(work, candidates, { explain: 'best' });
      expect(best.skipped).toEqual([]);
      expect(best.ranked).toEqual(full.ranked.slice(0, 1));
    }
  });
});

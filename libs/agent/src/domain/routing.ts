import { AgentRole } from './agent-role';
import { Capability } from './capability';
import { PerformanceSummary, PerformanceTier, tierOf } from './performance';

/** A piece of work to route: an optional role, the skills it needs, and how hard it is (1-10). */
export interface WorkRequest {
  role?: AgentRole;
  skills: readonly string[];
  complexity: number;
}

export interface RoutingCandidate {
  agent: {
    id: string;
    name: string;
    role: AgentRole;
    enabled: boolean;
    maxConcurrentSessions: number;
    capabilities: readonly Capability[];
  };
  /** Figures over the agent's recent runs. */
  recent: PerformanceSummary;
  /** Its sessions QUEUED or RUNNING now. */
  activeSessions: number;
}

export type ScorePartName = 'skill' | 'successRate' | 'quality' | 'tier' | 'cost' | 'load';

export interface ScorePart {
  /** 0 to 1. */
  value: number;
  weight: number;
  /** value x weight: what this part adds to the score. */
  contribution: number;
  why: string;
}

export interface RankedAgent {
  agentId: string;
  name: string;
  role: AgentRole;
  tier: PerformanceTier;
  /** 0 to 1: the sum of the parts' contributions. */
  score: number;
  parts: Record<ScorePartName, ScorePart>;
}

export type SkipReason = 'DISABLED' | 'ROLE_MISMATCH' | 'SATURATED' | 'NO_SKILL_MATCH';

export interface SkippedAgent {
  agentId: string;
  name: string;
  reason: SkipReason;
  why: string;
}

export interface RoutingDecision {
  ranked: RankedAgent[];
  skipped: SkippedAgent[];
}

/** The weights of the score's parts; they sum to 1. */
export const ROUTING_WEIGHTS: Readonly<Record<ScorePartName, number>> = {
  skill: 0.35,
  successRate: 0.2,
  quality: 0.15,
  tier: 0.1,
  cost: 0.1,
  load: 0.1,
};

const TIER_VALUE: Readonly<Record<PerformanceTier, number>> = {
  [PerformanceTier.PLATINUM]: 1,
  [PerformanceTier.GOLD]: 0.75,
  [PerformanceTier.SILVER]: 0.5,
  [PerformanceTier.BRONZE]: 0.25,
};

/**
 * Few runs say little: success rate and quality are pulled toward a prior as if the agent had
 * PRIOR_RUNS more runs at the prior (a new agent is neither best nor worst).
 */
const PRIOR_RUNS = 5;
const PRIOR_SUCCESS_RATE = 0.8;
const PRIOR_QUALITY = 7;

/** The skill level that work of this complexity needs: 1-2 → 1, ..., 9-10 → 5. */
export function requiredLevel(complexity: number): number {
  return Math.min(5, Math.max(1, Math.ceil(complexity / 2)));
}

export interface RankOptions {
  /**
   * 'all' (default): every ranked and skipped agent with its explanation. 'best': only the
   * decision: the best agent, fully explained, and nothing else (what a session's routing needs;
   * it allocates a fraction of 'all' at a thousand agents).
   */
  explain?: 'all' | 'best';
}

/**
 * Ranks the eligible agents for a piece of work, best first, each with the parts of its score;
 * lists the others with the reason they were skipped. Deterministic: equal scores are ordered
 * by name, then id.
 */
export function rankAgents(work: WorkRequest, candidates: readonly RoutingCandidate[], options: RankOptions = {}): RoutingDecision {
  const all = options.explain !== 'best';
  const need = requiredLevel(work.complexity);
  const skipped: SkippedAgent[] = [];
  const eligible: RoutingCandidate[] = [];
  const skillValues: number[] = [];
  for (const c of candidates) {
    const a = c.agent;
    let reason: SkipReason | null = null;
    let value = 0;
    if (!a.enabled) reason = 'DISABLED';
    else if (work.role && a.role !== work.role) reason = 'ROLE_MISMATCH';
    else if (c.activeSessions >= a.maxConcurrentSessions) reason = 'SATURATED';
    else {
      value = skillValue(a.capabilities, work.skills, need);
      if (value === 0) reason = 'NO_SKILL_MATCH';
    }
    if (reason === null) {
      eligible.push(c);
      skillValues.push(value);
    } else if (all) {
      skipped.push({ agentId: a.id, name: a.name, reason, why: skipWhy(reason, c, work) });
    }
  }
  const referenceCost = median(eligible.map((c) => c.recent.costPerSuccessUsd).filter((x): x is number => x !== null && x > 0));
  if (!all) {
    // Only the best is wanted: find it by the score alone, then explain that one.
    let best = -1;
    let bestScore = -1;
    for (let i = 0; i < eligible.length; i++) {
      const s = totalScore(eligible[i], skillValues[i], referenceCost);
      if (best < 0 || s > bestScore || (s === bestScore && before(eligible[i].agent, eligible[best].agent))) {
        best = i;
        bestScore = s;
      }
    }
    const ranked = best < 0 ? [] : [score(eligible[best], skillPart(eligible[best].agent.capabilities, work.skills, need), referenceCost)];
    return { ranked, skipped };
  }
  const ranked = eligible.map((c) => score(c, skillPart(c.agent.capabilities, work.skills, need), referenceCost));
  ranked.sort(
    (x, y) => y.score - x.score || (x.name < y.name ? -1 : x.name > y.name ? 1 : 0) || (x.agentId < y.agentId ? -1 : 1),
  );
  skipped.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : x.agentId < y.agentId ? -1 : 1));
  return { ranked, skipped };
}

function before(a: { name: string; id: string }, b: { name: string; id: string }): boolean {
  return a.name < b.name || (a.name === b.name && a.id < b.id);
}

function skipWhy(reason: SkipReason, c: RoutingCandidate, work: WorkRequest): string {
  switch (reason) {
    case 'DISABLED':
      return 'the agent is disabled';
    case 'ROLE_MISMATCH':
      return `its role is ${c.agent.role}, the work needs ${work.role}`;
    case 'SATURATED':
      return `${c.activeSessions} active sessions of at most ${c.agent.maxConcurrentSessions}`;
    case 'NO_SKILL_MATCH':
      return `has none of ${work.skills.join(', ')}`;
  }
}

/** The score without its explanation: the same arithmetic as score(), rounded the same way. */
function totalScore(c: RoutingCandidate, skill: number, referenceCost: number | null): number {
  const v = values(c, referenceCost);
  const w = ROUTING_WEIGHTS;
  return round(
    0 +
      round(skill * w.skill, 6) +
      round(v.successRate * w.successRate, 6) +
      round(v.quality * w.quality, 6) +
      round(v.tier * w.tier, 6) +
      round(v.cost * w.cost, 6) +
      round(v.load * w.load, 6),
    6,
  );
}

function values(c: RoutingCandidate, referenceCost: number | null) {
  const r = c.recent;
  const cps = r.costPerSuccessUsd;
  return {
    tier: TIER_VALUE[tierOf(r)],
    successRate: (r.successes + PRIOR_SUCCESS_RATE * PRIOR_RUNS) / (r.runs + PRIOR_RUNS),
    quality: ((r.meanQuality ?? 0) * r.scoredRuns + PRIOR_QUALITY * PRIOR_RUNS) / (r.scoredRuns + PRIOR_RUNS) / 10,
    cost: cps === null || referenceCost === null ? 0.5 : referenceCost / (referenceCost + cps),
    load: 1 - c.activeSessions / c.agent.maxConcurrentSessions,
  };
}

function score(c: RoutingCandidate, skill: ScorePart, referenceCost: number | null): RankedAgent {
  const r = c.recent;
  const tier = tierOf(r);
  const { successRate, quality, cost, load } = values(c, referenceCost);
  const cps = r.costPerSuccessUsd;
  const parts: Record<ScorePartName, ScorePart> = {
    skill,
    successRate: part('successRate', successRate, `${r.successes} of ${r.runs} recent runs succeeded (smoothed toward ${PRIOR_SUCCESS_RATE})`),
    quality: part(
      'quality',
      quality,
      r.scoredRuns ? `mean review score ${round(r.meanQuality ?? 0)}/10 over ${r.scoredRuns} runs (smoothed toward ${PRIOR_QUALITY})` : `no review scores yet (prior ${PRIOR_QUALITY}/10)`,
    ),
    tier: part('tier', TIER_VALUE[tier], `tier ${tier}`),
    cost: part(
      'cost',
      cost,
      cps === null ? 'no cost per success yet (neutral)' : `$${round(cps, 4)} per success against the candidates' median $${round(referenceCost ?? 0, 4)}`,
    ),
    load: part('load', load, `${c.activeSessions} of ${c.agent.maxConcurrentSessions} session slots in use`),
  };
  const total = Object.values(parts).reduce((sum, p) => sum + p.contribution, 0);
  return { agentId: c.agent.id, name: c.agent.name, role: c.agent.role, tier, score: round(total, 6), parts };
}

function skillPart(capabilities: readonly Capability[], skills: readonly string[], need: number): ScorePart {
  if (skills.length === 0) return part('skill', 1, 'no skills asked for');
  const value = skillValue(capabilities, skills, need);
  const detail = skills.map((s) => `${s}:${levelOf(capabilities, s)}`).join(', ');
  return part('skill', value, `${detail} against level ${need} needed`);
}

function skillValue(capabilities: readonly Capability[], skills: readonly string[], need: number): number {
  if (skills.length === 0) return 1;
  let sum = 0;
  for (const s of skills) sum += Math.min(levelOf(capabilities, s), need) / need;
  return sum / skills.length;
}

function levelOf(capabilities: readonly Capability[], skill: string): number {
  for (const c of capabilities) if (c.skill === skill) return c.level;
  return 0;
}

function part(name: ScorePartName, value: number, why: string): ScorePart {
  const weight = ROUTING_WEIGHTS[name];
  return { value: round(value, 6), weight, contribution: round(value * weight, 6), why };
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

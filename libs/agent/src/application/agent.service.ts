import { Inject, Injectable } from '@nestjs/common';
import { Budget, Spend, ZERO_SPEND } from '@app/shared';
import { Agent, AgentBinding, AgentChanges, READ_ONLY_ROLES } from '../domain/agent';
import { AgentRole, AGENT_ROLES } from '../domain/agent-role';
import { AgentError, AgentErrorCode } from '../domain/agent.errors';
import { assertSkill, Capability } from '../domain/capability';
import { AgentRun, PerformanceSummary, PerformanceTier, RECENT_RUNS, TIER_THRESHOLDS, tierOf } from '../domain/performance';
import { RankedAgent, RankOptions, rankAgents, RoutingDecision, WorkRequest } from '../domain/routing';
import { AGENT_PERFORMANCE, AgentPerformancePort, AgentStanding } from './ports/agent-performance.port';
import { AGENT_REPOSITORY, AgentListFilter, AgentRepositoryPort } from './ports/agent.repository.port';
import { SPEND_LIMITS, SpendLimitsPort } from './ports/spend-limits.port';
import { RefreshingValue } from './refreshing-value';

export interface CreateAgentCommand {
  name: string;
  role: AgentRole;
  capabilities: Capability[];
  maxConcurrentSessions?: number;
  enabled?: boolean;
  binding?: Partial<AgentBinding>;
  /** Per UTC day over every session of the agent; absent or null: no limit. */
  budget?: Budget | null;
}

export interface AgentPerformance {
  agentId: string;
  /** From the last RECENT_RUNS counted runs, whatever lastN is. */
  tier: PerformanceTier;
  lastN: number;
  recent: PerformanceSummary;
  allTime: PerformanceSummary;
  thresholds: typeof TIER_THRESHOLDS;
}

const DEFAULT_MAX_CONCURRENT_SESSIONS = 5;
const MAX_PERFORMANCE_WINDOW = 1000;
/**
 * How long the routing snapshot (agents + their recent figures) is reused before it is refreshed
 * in the background. Agent writes through this process clear it at once; recorded runs and
 * scores only mark it stale (figures at most about this old); other processes' changes are seen
 * within this time.
 */
export const ROUTING_SNAPSHOT_TTL_MS = 1000;
/** The load (QUEUED + RUNNING sessions per agent) is at most about this old when routing reads it. */
export const ROUTING_LOAD_TTL_MS = 250;

/** Use cases of the agent context: the catalogue of agents, their figures, and routing work to them. */
@Injectable()
export class AgentService {
  private readonly snapshot: RefreshingValue<AgentStanding[]>;
  private readonly load: RefreshingValue<Map<string, number>>;

  constructor(
    @Inject(AGENT_REPOSITORY) private readonly agents: AgentRepositoryPort,
    @Inject(AGENT_PERFORMANCE) private readonly performanceFigures: AgentPerformancePort,
    @Inject(SPEND_LIMITS) private readonly spendLimits: SpendLimitsPort,
  ) {
    this.snapshot = new RefreshingValue(() => this.performanceFigures.routingSnapshot(), ROUTING_SNAPSHOT_TTL_MS);
    this.load = new RefreshingValue(() => this.performanceFigures.activeSessions(), ROUTING_LOAD_TTL_MS);
  }

  async create(command: CreateAgentCommand): Promise<Agent> {
    const readOnly = READ_ONLY_ROLES.includes(command.role);
    const agent = Agent.create({
      name: command.name,
      role: command.role,
      capabilities: command.capabilities,
      maxConcurrentSessions: command.maxConcurrentSessions ?? DEFAULT_MAX_CONCURRENT_SESSIONS,
      enabled: command.enabled,
      binding: {
        opencodeAgent: command.binding?.opencodeAgent ?? (readOnly ? 'plan' : 'build'),
        model: command.binding?.model ?? null,
        systemInstructions: command.binding?.systemInstructions ?? '',
        disabledTools: command.binding?.disabledTools ?? [],
        permissions: command.binding?.permissions ?? {},
        fallbackModels: command.binding?.fallbackModels ?? [],
        maxSteps: command.binding?.maxSteps ?? null,
      },
      budget: command.budget ?? null,
    });
    await this.agents.insert(agent);
    this.invalidateRoutingSnapshot();
    // A new agent has no limit in the spending context: only a budget needs mirroring.
    if (agent.budget) await this.spendLimits.setAgentBudget(agent.id, agent.budget);
    return agent;
  }

  async get(id: string): Promise<Agent> {
    const agent = await this.agents.findById(id);
    if (!agent) throw AgentError.notFound(id);
    return agent;
  }

  /** An agent a session may be given: it exists and is enabled (AGENT_DISABLED otherwise). */
  async getEnabled(id: string): Promise<Agent> {
    const agent = await this.get(id);
    if (!agent.enabled) throw AgentError.disabled(agent.id, agent.name);
    return agent;
  }

  list(filter: AgentListFilter = {}): Promise<Agent[]> {
    return this.agents.list(filter);
  }

  /** Changes an agent read at `version`; a stale version is AGENT_VERSION_CONFLICT. */
  async update(id: string, version: number, changes: AgentChanges): Promise<Agent> {
    const agent = await this.get(id);
    if (agent.version !== version) throw AgentError.versionConflict(id, version);
    agent.update(changes);
    await this.agents.update(agent);
    this.invalidateRoutingSnapshot();
    // Mirrored whenever the request names a budget, even an unchanged one: re-sending it repairs
    // a mirror that an earlier failure left behind.
    if (changes.budget !== undefined) await this.spendLimits.setAgentBudget(agent.id, agent.budget);
    return agent;
  }

  /** What each agent spent this UTC day (zero for those that spent nothing). */
  async spentToday(agentIds: string[]): Promise<Map<string, Spend>> {
    const spent = await this.spendLimits.spentToday(agentIds);
    return new Map(agentIds.map((id) => [id, spent.get(id) ?? { ...ZERO_SPEND }]));
  }

  async delete(id: string): Promise<void> {
    if (!(await this.agents.softDelete(id))) throw AgentError.notFound(id);
    this.invalidateRoutingSnapshot();
  }

  async performance(id: string, lastN = RECENT_RUNS): Promise<AgentPerformance> {
    if (!Number.isInteger(lastN) || lastN < 1 || lastN > MAX_PERFORMANCE_WINDOW) {
      throw AgentError.invalid('lastN', `must be an integer from 1 to ${MAX_PERFORMANCE_WINDOW}`, lastN);
    }
    await this.get(id);
    const { recent, allTime } = await this.performanceFigures.summary(id, lastN);
    const tierWindow = lastN === RECENT_RUNS ? recent : (await this.performanceFigures.summary(id, RECENT_RUNS)).recent;
    return { agentId: id, tier: tierOf(tierWindow), lastN, recent, allTime, thresholds: TIER_THRESHOLDS };
  }

  /** Every live agent ranked for the work (best first), and the others with why they were skipped. */
  async route(work: WorkRequest): Promise<RoutingDecision> {
    return (await this.decide(work)).decision;
  }

  /** The best agent for the work, or NO_ELIGIBLE_AGENT saying why each agent was skipped. */
  async pick(work: WorkRequest): Promise<Agent> {
    return (await this.pickRanked(work)).agent;
  }

  /** The routing decision: the best agent and its explained score (only that one is explained). */
  async pickRanked(work: WorkRequest): Promise<{ agent: Agent; ranked: RankedAgent }> {
    const { decision: quick, standings } = await this.decide(work, { explain: 'best' });
    const best = quick.ranked[0];
    if (!best) {
      const { decision } = await this.decide(work); // every skipped agent, with its reason
      const asked = `${work.role ? `role ${work.role}, ` : ''}skills ${work.skills.length ? work.skills.join(', ') : '(none)'}`;
      const reasons = decision.skipped.length
        ? decision.skipped.map((s) => `${s.name}: ${s.reason} (${s.why})`).join('; ')
        : 'there are no agents';
      throw new AgentError(AgentErrorCode.NO_ELIGIBLE_AGENT, `No eligible agent for ${asked}: ${reasons}`, {
        role: work.role ?? null,
        skills: [...work.skills],
        complexity: work.complexity,
        skipped: decision.skipped,
      });
    }
    const standing = standings.find((s) => s.agent.id === best.agentId)!;
    // A copy: the cached snapshot is shared by every caller.
    return { agent: Agent.restore(standing.agent.snapshot()), ranked: best };
  }

  /** Records a finished run (idempotent by session and attempt); true when it was new. */
  async recordRun(run: AgentRun): Promise<boolean> {
    assertRun(run);
    const inserted = await this.performanceFigures.recordRun(run);
    this.figuresChanged();
    return inserted;
  }

  /** Credits a quality score (e.g. a review's) to the latest recorded run of a session; false when it has none. */
  async recordQuality(sessionId: string, qualityScore: number): Promise<boolean> {
    if (!(qualityScore >= 0 && qualityScore <= 10)) throw AgentError.invalid('qualityScore', 'must be from 0 to 10', qualityScore);
    const updated = await this.performanceFigures.recordQuality(sessionId, qualityScore);
    this.figuresChanged();
    return updated;
  }

  /** The agents, their figures and their load come from the refreshing snapshots: no request waits for a reload. */
  private async decide(work: WorkRequest, options?: RankOptions): Promise<{ decision: RoutingDecision; standings: AgentStanding[] }> {
    assertWork(work);
    const [standings, active] = await Promise.all([this.snapshot.get(), this.load.get()]);
    const decision = rankAgents(
      work,
      standings.map((s) => ({ agent: s.agent, recent: s.recent, activeSessions: active.get(s.agent.id) ?? 0 })),
      options,
    );
    return { decision, standings };
  }

  /** The set of agents or their settings changed: the next decision reads them again. */
  private invalidateRoutingSnapshot(): void {
    this.snapshot.clear();
    this.load.markStale();
  }

  /** A run or score was recorded: figures and load are refreshed in the background. */
  private figuresChanged(): void {
    this.snapshot.markStale();
    this.load.markStale();
  }
}

function assertWork(work: WorkRequest): void {
  if (work.role !== undefined && !AGENT_ROLES.includes(work.role)) {
    throw AgentError.invalid('role', `must be one of ${AGENT_ROLES.join(', ')}`, work.role);
  }
  work.skills.forEach((s, i) => assertSkill(s, `skills[${i}]`));
  if (!Number.isInteger(work.complexity) || work.complexity < 1 || work.complexity > 10) {
    throw AgentError.invalid('complexity', 'must be an integer from 1 to 10', work.complexity);
  }
}

function assertRun(run: AgentRun): void {
  if (!Number.isInteger(run.attempt) || run.attempt < 1) throw AgentError.invalid('attempt', 'must be an integer of at least 1', run.attempt);
  if (!(run.durationMs >= 0)) throw AgentError.invalid('durationMs', 'must be at least 0', run.durationMs);
  if (!(run.costUsd >= 0)) throw AgentError.invalid('costUsd', 'must be at least 0', run.costUsd);
  if (!(run.inputTokens >= 0) || !(run.outputTokens >= 0)) throw AgentError.invalid('tokens', 'must be at least 0');
  if (run.qualityScore !== null && !(run.qualityScore >= 0 && run.qualityScore <= 10)) {
    throw AgentError.invalid('qualityScore', 'must be from 0 to 10, or null', run.qualityScore);
  }
}

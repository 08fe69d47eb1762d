import { Agent } from '../domain/agent';
import { AgentError } from '../domain/agent.errors';
import { AgentRun, RECENT_RUNS, summarise } from '../domain/performance';
import { AgentPerformanceFigures, AgentPerformancePort, AgentStanding } from '../application/ports/agent-performance.port';
import { AgentListFilter, AgentRepositoryPort } from '../application/ports/agent.repository.port';
import { SpendLimitsPort } from '../application/ports/spend-limits.port';
import type { Budget, Spend } from '@app/shared';

type AgentRow = ReturnType<Agent['snapshot']> & { deletedAt: Date | null };

const toAgent = ({ deletedAt: _d, ...props }: AgentRow): Agent => Agent.restore(props);

/** Unit-test double of the agent repository, with the same version and name checks as the real one. */
export class InMemoryAgentRepository implements AgentRepositoryPort {
  readonly rows = new Map<string, AgentRow>();

  async insert(agent: Agent): Promise<void> {
    this.assertNameFree(agent);
    this.rows.set(agent.id, { ...agent.snapshot(), deletedAt: null });
  }

  async findById(id: string, options: { includeDeleted?: boolean } = {}): Promise<Agent | null> {
    const row = this.rows.get(id);
    if (!row || (row.deletedAt && !options.includeDeleted)) return null;
    return toAgent(row);
  }

  async list(filter: AgentListFilter = {}): Promise<Agent[]> {
    return this.live()
      .filter((r) => (filter.role === undefined || r.role === filter.role) && (filter.enabled === undefined || r.enabled === filter.enabled))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1))
      .map(toAgent);
  }

  async update(agent: Agent): Promise<void> {
    const stored = this.rows.get(agent.id);
    if (!stored || stored.deletedAt || stored.version !== agent.version) throw AgentError.versionConflict(agent.id, agent.version);
    this.assertNameFree(agent);
    agent.persisted(agent.version + 1);
    this.rows.set(agent.id, { ...agent.snapshot(), deletedAt: null });
  }

  async softDelete(id: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || row.deletedAt) return false;
    this.rows.set(id, { ...row, deletedAt: new Date(), version: row.version + 1 });
    return true;
  }

  live(): AgentRow[] {
    return [...this.rows.values()].filter((r) => !r.deletedAt);
  }

  private assertNameFree(agent: Agent): void {
    const taken = this.live().some((r) => r.id !== agent.id && r.name.toLowerCase() === agent.name.toLowerCase());
    if (taken) throw AgentError.nameTaken(agent.name);
  }
}

/**
 * Unit-test double of the performance port: figures from summarise() over the stored runs, agents
 * from an InMemoryAgentRepository, load from `active`. Counts snapshot reads for cache tests.
 */
export class InMemoryAgentPerformance implements AgentPerformancePort {
  readonly runs: AgentRun[] = [];
  /** Agent id → sessions QUEUED or RUNNING; set it directly. */
  readonly active = new Map<string, number>();
  snapshotReads = 0;

  constructor(private readonly agents: InMemoryAgentRepository) {}

  async recordRun(run: AgentRun): Promise<boolean> {
    if (!this.agents.rows.has(run.agentId)) throw AgentError.notFound(run.agentId);
    if (this.runs.some((r) => r.sessionId === run.sessionId && r.attempt === run.attempt)) return false;
    this.runs.push({ ...run });
    return true;
  }

  async recordQuality(sessionId: string, qualityScore: number): Promise<boolean> {
    const latest = this.runs.filter((r) => r.sessionId === sessionId).sort((a, b) => b.attempt - a.attempt)[0];
    if (!latest) return false;
    latest.qualityScore = qualityScore;
    return true;
  }

  async summary(agentId: string, lastN: number): Promise<AgentPerformanceFigures> {
    const counted = this.countedNewestFirst(agentId);
    return { recent: summarise(counted.slice(0, lastN)), allTime: summarise(counted) };
  }

  async routingSnapshot(): Promise<AgentStanding[]> {
    this.snapshotReads++;
    return (await this.agents.list()).map((agent) => ({
      agent,
      recent: summarise(this.countedNewestFirst(agent.id).slice(0, RECENT_RUNS)),
    }));
  }

  async activeSessions(): Promise<Map<string, number>> {
    return new Map(this.active);
  }

  private countedNewestFirst(agentId: string): AgentRun[] {
    return this.runs
      .filter((r) => r.agentId === agentId && r.outcome !== 'CANCELLED')
      .sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  }
}

/** Unit-test double of the spending context as agents see it: the budgets set, in call order, and spend you set. */
export class InMemorySpendLimits implements SpendLimitsPort {
  readonly calls: Array<{ agentId: string; budget: Budget | null }> = [];
  readonly budgets = new Map<string, Budget | null>();
  /** Agent id → what it spent today; set it directly. */
  readonly spent = new Map<string, Spend>();
  async setAgentBudget(agentId: string, budget: Budget | null): Promise<void> {
    const copy = budget ? { ...budget } : null;
    this.calls.push({ agentId, budget: copy });
    this.budgets.set(agentId, copy);
  }

  async spentToday(agentIds: string[]): Promise<Map<string, Spend>> {
    return new Map(agentIds.filter((id) => this.spent.has(id)).map((id) => [id, { ...this.spent.get(id)! }]));
  }
}

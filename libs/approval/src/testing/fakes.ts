import { Approval, ApprovalProps } from '../domain/approval';
import { ApprovalStatus } from '../domain/approval-status';
import { ApprovalError } from '../domain/approval.errors';
import { ApprovalDecisionsPort } from '../application/ports/approval-decisions.port';
import { ApprovalListFilter, ApprovalRepositoryPort, SessionRun } from '../application/ports/approval.repository.port';

/** Unit-test double of the repository, with the same uniqueness and version checks as the real one. */
export class InMemoryApprovalRepository implements ApprovalRepositoryPort {
  readonly rows = new Map<string, Readonly<ApprovalProps>>();

  async insertOrGet(approval: Approval): Promise<Approval> {
    const s = approval.snapshot();
    const existing = [...this.rows.values()].find((r) => r.sessionId === s.sessionId && r.opencodeRequestId === s.opencodeRequestId);
    if (existing) return Approval.restore(existing);
    this.rows.set(s.id, s);
    return Approval.restore(s);
  }

  async findById(id: string): Promise<Approval | null> {
    const row = this.rows.get(id);
    return row ? Approval.restore(row) : null;
  }

  async list(filter: ApprovalListFilter): Promise<Approval[]> {
    return [...this.rows.values()]
      .filter((r) => (!filter.status || r.status === filter.status) && (!filter.sessionId || r.sessionId === filter.sessionId))
      .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())
      .slice(0, filter.limit)
      .map((r) => Approval.restore(r));
  }

  async findPendingOfRuns(runs: readonly SessionRun[]): Promise<Approval[]> {
    return [...this.rows.values()]
      .filter((r) => r.status === ApprovalStatus.PENDING && runs.some((run) => run.sessionId === r.sessionId && run.attempt === r.attempt))
      .map((r) => Approval.restore(r));
  }

  async findOverdue(now: Date, limit: number): Promise<Approval[]> {
    return [...this.rows.values()]
      .filter((r) => r.status === ApprovalStatus.PENDING && r.expiresAt.getTime() <= now.getTime())
      .slice(0, limit)
      .map((r) => Approval.restore(r));
  }

  async update(approval: Approval): Promise<void> {
    const stored = this.rows.get(approval.id);
    if (!stored || stored.version !== approval.version) throw ApprovalError.versionConflict(approval.id, approval.version);
    approval.persisted(approval.version + 1);
    this.rows.set(approval.id, approval.snapshot());
  }
}

/** Pub/sub in one process; `lose` drops messages (a Redis blip), `failSubscribe` refuses to listen. */
export class InMemoryApprovalDecisions implements ApprovalDecisionsPort {
  private readonly listeners = new Map<string, Set<() => void>>();
  lose = false;
  failSubscribe = false;
  published: string[] = [];

  async publish(id: string): Promise<void> {
    this.published.push(id);
    if (this.lose) return;
    for (const listener of [...(this.listeners.get(id) ?? [])]) listener();
  }

  async subscribe(id: string, listener: () => void): Promise<() => void> {
    if (this.failSubscribe) throw new Error('Redis does not answer');
    let set = this.listeners.get(id);
    if (!set) this.listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  listening(id: string): number {
    return this.listeners.get(id)?.size ?? 0;
  }
}

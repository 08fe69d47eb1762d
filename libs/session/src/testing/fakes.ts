import { ZERO_USAGE } from '@app/shared';
import { Session } from '../domain/session';
import { isFinal, SessionStatus } from '../domain/session-status';
import { SessionError } from '../domain/session.errors';
import {
  CodingTurnsPort,
  CodingTurnOutcome,
  CodingTurnRef,
  CodingTurnRequest,
  RunTurnOptions,
} from '../application/ports/coding-turns.port';
import { AgentChoice, AgentChoiceRequest, AgentDirectoryPort, AgentRunReport } from '../application/ports/agent-directory.port';
import { RunHeartbeatPort } from '../application/ports/run-heartbeat.port';
import { RunJobState, SessionQueuePort, SessionRunJob } from '../application/ports/session-queue.port';
import { SessionEventRecord, SessionPage, SessionRepositoryPort, UnchangedSinceQuery } from '../application/ports/session.repository.port';
import { SessionTransitionPublisher } from '../application/session-transition-publisher';

/** Unit-test double of the repository with the same version check (and publishing after the write) as the real one. */
export class InMemorySessionRepository implements SessionRepositoryPort {
  readonly rows = new Map<string, ReturnType<Session['snapshot']>>();
  readonly history: SessionEventRecord[] = [];

  constructor(private readonly transitions = new SessionTransitionPublisher()) {}

  async insert(session: Session): Promise<void> {
    this.rows.set(session.id, session.snapshot());
    this.append(session);
  }

  async update(session: Session): Promise<void> {
    const stored = this.rows.get(session.id);
    if (!stored || stored.deletedAt || stored.version !== session.version) {
      throw SessionError.versionConflict(session.id, session.version);
    }
    session.persisted(session.version + 1);
    this.rows.set(session.id, session.snapshot());
    this.append(session);
  }

  async findById(id: string, options: { includeDeleted?: boolean } = {}): Promise<Session | null> {
    const row = this.rows.get(id);
    if (!row || (row.deletedAt && !options.includeDeleted)) return null;
    return Session.restore(row);
  }

  async list(): Promise<SessionPage> {
    return { items: [...this.rows.values()].map((r) => Session.restore(r)), nextCursor: null };
  }

  async events(sessionId: string): Promise<SessionEventRecord[]> {
    return this.history.filter((e) => e.sessionId === sessionId);
  }

  async findUnchangedSince(query: UnchangedSinceQuery): Promise<Session[]> {
    const key = (r: { updatedAt: Date; id: string }) => `${r.updatedAt.toISOString()}|${r.id}`;
    const after = query.after ? key(query.after) : '';
    return [...this.rows.values()]
      .filter((r) => r.status === query.status && r.updatedAt < query.before && !r.deletedAt && key(r) > after)
      .sort((a, b) => (key(a) < key(b) ? -1 : 1))
      .slice(0, query.limit)
      .map((r) => Session.restore(r));
  }

  async activeBranches(repository: string): Promise<string[]> {
    return [...this.rows.values()]
      .filter((s) => !s.deletedAt && s.worktree?.state === 'ACTIVE' && s.worktree.repository === repository)
      .map((s) => s.worktree!.branch);
  }

  async worktreeRepositories(): Promise<string[]> {
    const all = [...this.rows.values()].map((s) => s.worktree).filter((w) => w?.state === 'ACTIVE');
    return [...new Set(all.map((w) => w!.repository))];
  }

  async findWorktreesToExpire(before: Date, limit: number): Promise<Session[]> {
    return [...this.rows.values()]
      .filter((p) => {
        const finished = p.finishedAt !== null && p.finishedAt < before && p.deletedAt === null;
        return p.worktree?.state === 'ACTIVE' && finished && p.status !== SessionStatus.QUEUED && p.status !== SessionStatus.RUNNING;
      })
      .slice(0, limit)
      .map((p) => Session.restore(p));
  }

  async pruneFinished(before: Date, limit: number, now: Date): Promise<number> {
    const due = [...this.rows.values()]
      .filter((r) => r.prunedAt === null && isFinal(r.status) && r.finishedAt !== null && r.finishedAt < before)
      .sort((a, b) => a.finishedAt!.getTime() - b.finishedAt!.getTime() || a.id.localeCompare(b.id))
      .slice(0, limit);
    for (const r of due) {
      const result = r.result ? { ...r.result, summary: '' } : null;
      this.rows.set(r.id, { ...r, result, prunedAt: now, updatedAt: now, version: r.version + 1 });
    }
    return due.length;
  }

  async findUnfinished(ids: readonly string[]): Promise<string[]> {
    return ids.filter((id) => {
      const row = this.rows.get(id);
      return row !== undefined && !isFinal(row.status);
    });
  }

  async findToStop(ids: string[]): Promise<string[]> {
    const live: string[] = [SessionStatus.QUEUED, SessionStatus.RUNNING];
    return ids.filter((id) => {
      const row = this.rows.get(id);
      return !row || row.cancelRequestedAt || !live.includes(row.status) || row.deletedAt;
    });
  }

  private append(session: Session): void {
    const events = session.pullEvents(session.version);
    for (const { sessionId, from, to, reason, attempt, at } of events) {
      this.history.push({ id: String(this.history.length + 1), sessionId, from, to, reason, attempt, at });
    }
    this.transitions.publish(events);
  }
}

export class InMemoryHeartbeat implements RunHeartbeatPort {
  readonly until = new Map<string, number>();
  async beat(ids: string[], ttlMs: number): Promise<void> {
    for (const id of ids) this.until.set(id, Date.now() + ttlMs);
  }
  async alive(ids: string[]): Promise<Set<string>> {
    return new Set(ids.filter((id) => (this.until.get(id) ?? 0) > Date.now()));
  }
}

export class FakeQueue implements SessionQueuePort {
  readonly jobs = new Map<string, RunJobState>();
  enqueued: SessionRunJob[] = [];
  /** Jobs enqueued ahead of the waiting ones. */
  ahead: SessionRunJob[] = [];
  woken: SessionRunJob[] = [];
  async enqueue(job: SessionRunJob, options: { ahead?: boolean } = {}): Promise<void> {
    const key = `${job.sessionId}.${job.attempt}`;
    if (this.jobs.has(key)) return;
    this.jobs.set(key, 'waiting');
    this.enqueued.push(job);
    if (options.ahead) this.ahead.push(job);
  }
  async wake(job: SessionRunJob): Promise<void> {
    const key = `${job.sessionId}.${job.attempt}`;
    if (this.jobs.get(key) !== 'delayed') return;
    this.jobs.set(key, 'waiting');
    this.woken.push(job);
  }
  async remove(job: SessionRunJob): Promise<void> {
    this.jobs.delete(`${job.sessionId}.${job.attempt}`);
  }
  async state(job: SessionRunJob): Promise<RunJobState> {
    return this.jobs.get(`${job.sessionId}.${job.attempt}`) ?? 'missing';
  }
}

/** Agents by id and by role (the first of a role wins); records every reported run. */
export class FakeAgentDirectory implements AgentDirectoryPort {
  readonly requests: AgentChoiceRequest[] = [];
  readonly runs: AgentRunReport[] = [];
  constructor(readonly agents: AgentChoice[] = []) {}

  async choose(request: AgentChoiceRequest): Promise<AgentChoice> {
    this.requests.push(request);
    const found = request.agentId
      ? this.agents.find((a) => a.agentId === request.agentId)
      : this.agents.find((a) => !request.role || a.role === request.role);
    if (!found) throw new Error(`no agent for ${JSON.stringify(request)}`);
    return { ...found, score: request.agentId ? null : 0.5 };
  }

  async recordRun(report: AgentRunReport): Promise<void> {
    this.runs.push(report);
  }
}

export const REVIEWER_CHOICE: AgentChoice = {
  agentId: '00000000-0000-4000-a000-000000000003',
  agentName: 'reviewer',
  role: 'REVIEWER',
  opencodeAgent: 'plan',
  model: null,
  systemInstructions: 'Answer VERDICT: and QUALITY: lines first.',
  disabledTools: ['bash', 'edit', 'write'],
  readOnly: true,
  permissions: { webfetch: 'deny' },
  fallbackModels: [],
  maxSteps: null,
  score: null,
};

/** Scripted coding turns: each runTurn answers with the scripted behaviour. */
export class ScriptedCodingTurns implements CodingTurnsPort {
  opened = 0;
  runs: Array<{ ref: CodingTurnRef; request: CodingTurnRequest; resume: boolean }> = [];
  constructor(
    private readonly behaviour: (signal: AbortSignal, resume: boolean) => Promise<CodingTurnOutcome>,
    private readonly openFails = false,
  ) {}

  async openTurn(): Promise<CodingTurnRef> {
    if (this.openFails) throw new Error('connect ECONNREFUSED 127.0.0.1:4096');
    this.opened += 1;
    return { opencodeSessionId: `ses_${this.opened}`, messageId: `msg_${this.opened}` };
  }

  /** Whether its turns go on when the worker stops (an external server); a managed server's by default. */
  outlives = false;

  async runTurn(ref: CodingTurnRef, request: CodingTurnRequest, options: RunTurnOptions): Promise<CodingTurnOutcome> {
    this.runs.push({ ref, request, resume: options.resume ?? false });
    const { detach } = options;
    if (!detach) return this.behaviour(options.signal, options.resume ?? false);
    // Detached, the turn goes on unwatched: its own end no longer matters here.
    const detached = new Promise<CodingTurnOutcome>((resolve) => {
      const done = () => resolve({ status: 'detached', summary: '', filesChanged: [], usage: { ...ZERO_USAGE } });
      if (detach.aborted) done();
      else detach.addEventListener('abort', done, { once: true });
    });
    return Promise.race([this.behaviour(options.signal, options.resume ?? false), detached]);
  }

  outlivesWorker(): boolean {
    return this.outlives;
  }

  async isHealthy(): Promise<boolean> {
    return true;
  }

  defaultModel(): string | null {
    return 'rehearsal/scripted';
  }

  released: string[] = [];
  async releaseDirectory(directory: string): Promise<boolean> {
    this.released.push(directory);
    return true;
  }
}

const USAGE = { inputTokens: 10, outputTokens: 5, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0.001 };

export function outcome(status: CodingTurnOutcome['status'], extra: Partial<CodingTurnOutcome> = {}): CodingTurnOutcome {
  return { status, summary: 'text', filesChanged: [], usage: USAGE, ...extra };
}

/** Resolves 'aborted' when the signal fires (a turn that never ends by itself). */
export function untilAborted(signal: AbortSignal): Promise<CodingTurnOutcome> {
  return new Promise((resolve) => {
    const done = () => resolve(outcome('aborted'));
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });
}

/** A session created in `workspace` (title "t", prompt "p", agent build) and queued, stored in `repo` at each step. */
export async function queuedSession(repo: SessionRepositoryPort, workspace: string, timeoutSeconds = 60): Promise<Session> {
  const s = Session.create({ title: 't', prompt: 'p', workspace, opencodeAgent: 'build', timeoutSeconds });
  await repo.insert(s);
  s.queue();
  await repo.update(s);
  return s;
}

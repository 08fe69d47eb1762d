import type { Budget } from '@app/shared';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { LOCK_PORT, LockPort } from '@app/locking';
import { WORKSPACE_PORT, WorkspacePort } from '@app/workspace';
import { SessionIsolation } from '../domain/session-worktree';
import { SessionWorktreeService } from './session-worktree.service';
import { Session } from '../domain/session';
import { SessionAgentAssignment } from '../domain/session-agent';
import { SessionOrigin } from '../domain/session-origin';
import { AGENT_DIRECTORY, AgentDirectoryPort } from './ports/agent-directory.port';
import { SessionStatus } from '../domain/session-status';
import { SessionError, SessionErrorCode } from '../domain/session.errors';
import { SESSION_QUEUE, SessionQueuePort } from './ports/session-queue.port';
import {
  SESSION_REPOSITORY,
  SessionEventRecord,
  SessionPage,
  SessionRepositoryPort,
} from './ports/session.repository.port';
import { SESSION_SIGNALS, SessionSignalsPort } from './ports/session-signals.port';
import { retryOnConflict } from './retry-on-conflict';

export interface CreateSessionCommand {
  title: string;
  prompt: string;
  workspace: string;
  /** The caller's API key roots: the workspace must resolve inside one of them too. */
  workspaceRoots?: readonly string[] | null;
  /** The caller's API key id, recorded on the session. */
  createdByKeyId?: string | null;
  /** The OpenCode agent (build, plan, ...) the turn runs with (the API's `agent`; the session's opencodeAgent). */
  agent?: string;
  model?: string;
  /** Limits on what one attempt may spend. */
  budget?: Budget | null;
  timeoutSeconds?: number;
  metadata?: Record<string, unknown>;
  /** Why it is made; default: through the API. */
  origin?: SessionOrigin;
  /** An orchestrator agent by id, or routing by role and skills (see AgentDirectoryPort). */
  agentId?: string;
  role?: string;
  skills?: string[];
  complexity?: number;
  reviewOf?: string;
  /** Default: "worktree" when the workspace is in a git work tree, else "shared". */
  isolation?: SessionIsolation;
  /** The commit or branch the session's branch is made from (default: the workspace's HEAD); worktree only. */
  baseRef?: string;
  /** A branch merged into the new worktree before the turn, conflicts left for the agent (a plan's resolver). */
  mergeIn?: string;
}

const DEFAULT_COMPLEXITY = 5;

/** How long a lifecycle command may hold, and wait for, a session's lock. */
const SESSION_LOCK_TTL_MS = 30_000;
export const SESSION_LOCK_WAIT_MS = 30_000;
const DEFAULT_OPENCODE_AGENT = 'build';
/** A cancel decided on a row a worker changed meanwhile is decided again, this many times in all. */
const CANCEL_TRIES = 3;

/** Use cases of the API side: everything a user does to a session. */
@Injectable()
export class SessionLifecycleService {
  private readonly logger = new Logger(SessionLifecycleService.name);

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(SESSION_QUEUE) private readonly queue: SessionQueuePort,
    @Inject(SESSION_SIGNALS) private readonly signals: SessionSignalsPort,
    @Inject(LOCK_PORT) private readonly locks: LockPort,
    private readonly config: AppConfig,
    @Inject(AGENT_DIRECTORY) private readonly agents: AgentDirectoryPort,
    @Inject(WORKSPACE_PORT) private readonly workspaces: WorkspacePort,
    private readonly worktrees: SessionWorktreeService,
  ) {}

  async create(command: CreateSessionCommand): Promise<Session> {
    // Stored resolved: the run, its lock and every later check use what the path really is.
    const workspace = await this.workspaces.resolve(command.workspace, command.workspaceRoots);
    const id = randomUUID();
    const worktree = await this.worktrees.plan(id, command.title, workspace, command);
    const assignment = await this.assignAgent(command);
    const session = Session.create({
      id,
      worktree,
      title: command.title,
      prompt: command.prompt,
      workspace,
      metadata: command.metadata,
      origin: command.origin,
      createdByKeyId: command.createdByKeyId ?? null,
      opencodeAgent: assignment?.opencodeAgent ?? command.agent ?? DEFAULT_OPENCODE_AGENT,
      model: command.model ?? assignment?.model ?? null,
      budget: command.budget ?? null,
      assignment: assignment?.snapshot ?? null,
      timeoutSeconds: command.timeoutSeconds ?? this.config.sessionTimeoutSeconds,
    });
    await this.sessions.insert(session);
    return session;
  }

  /**
   * A session names an agent (agentId), asks for one (role, skills, or a review: reviewOf), or
   * neither (a plain OpenCode session with the given OpenCode agent). The chosen agent's binding
   * decides the OpenCode agent, system instructions and tools; an explicit model still wins.
   */
  private async assignAgent(command: CreateSessionCommand) {
    const wanted = command.agentId ?? command.role ?? command.reviewOf ?? (command.skills?.length ? 'skills' : undefined);
    if (!wanted) return null;
    const conflict = (message: string) =>
      new SessionError(SessionErrorCode.AGENT_CHOICE_CONFLICT, message, { agentId: command.agentId, role: command.role, agent: command.agent });
    if (command.agentId && command.role) throw conflict('give agentId or role, not both');
    if (command.agent) throw conflict('agent (the OpenCode agent) is decided by the orchestrator agent\'s binding; leave it out with agentId, role, skills or reviewOf');
    if (command.reviewOf) await this.get(command.reviewOf);
    const routing = {
      requestedRole: command.role ?? (command.reviewOf && !command.agentId ? 'REVIEWER' : null),
      skills: command.skills ?? [],
      complexity: command.complexity ?? DEFAULT_COMPLEXITY,
    };
    const choice = await this.agents.choose({
      agentId: command.agentId,
      role: routing.requestedRole ?? undefined,
      skills: routing.skills,
      complexity: routing.complexity,
    });
    const snapshot: SessionAgentAssignment = {
      agentId: choice.agentId,
      agentName: choice.agentName,
      role: choice.role,
      systemInstructions: choice.systemInstructions,
      disabledTools: choice.disabledTools,
      readOnly: choice.readOnly,
      permissions: choice.permissions,
      fallbackModels: choice.fallbackModels,
      maxSteps: choice.maxSteps,
      routing: { ...routing, score: choice.score },
      reviewOf: command.reviewOf ?? null,
    };
    return { opencodeAgent: choice.opencodeAgent, model: choice.model, snapshot };
  }

  /** Which of these sessions are not finished yet (deleted ones included; unknown ids are not listed). */
  unfinished(ids: readonly string[]): Promise<string[]> {
    return this.sessions.findUnfinished(ids);
  }

  async get(id: string): Promise<Session> {
    const session = await this.sessions.findById(id);
    if (!session) throw SessionError.notFound(id);
    return session;
  }

  list(query: { status?: SessionStatus; limit?: number; cursor?: string }): Promise<SessionPage> {
    return this.sessions.list({ ...query, limit: query.limit ?? 50 });
  }

  async events(id: string): Promise<SessionEventRecord[]> {
    await this.get(id);
    return this.sessions.events(id);
  }

  /** PENDING → QUEUED and one run job. Concurrent starts: one wins, the others see QUEUED (409). */
  start(id: string): Promise<Session> {
    return this.queueRun(id, (session) => session.queue());
  }

  /** FAILED | TIMED_OUT | CANCELLED → QUEUED as attempt + 1. */
  retry(id: string): Promise<Session> {
    return this.queueRun(id, (session) => session.retry());
  }

  private queueRun(id: string, toQueued: (session: Session) => void): Promise<Session> {
    return this.withSessionLock(id, async (session) => {
      toQueued(session);
      await this.sessions.update(session);
      // Saved before enqueued: a crash in between leaves a QUEUED session without a job,
      // which the recovery sweep enqueues again (jobs are idempotent by session and attempt).
      await this.queue.enqueue({ sessionId: id, attempt: session.attempt });
      return session;
    });
  }

  /**
   * A session that has not started is cancelled at once. A RUNNING one is marked and its
   * worker is told; the worker aborts the OpenCode turn and records CANCELLED.
   */
  cancel(id: string): Promise<Session> {
    return this.withSessionLock(id, (session) =>
      // A worker may claim the session (QUEUED → RUNNING) while we decide: the version check
      // catches it, and the cancel is decided again on the fresh row rather than refused.
      retryOnConflict(CANCEL_TRIES, async (attempt) => this.cancelNow(attempt === 1 ? session : await this.get(id))),
    );
  }

  private async cancelNow(session: Session): Promise<Session> {
    if (session.status === SessionStatus.RUNNING) {
      session.requestCancel();
      await this.sessions.update(session);
      await this.signals.requestCancel(session.id);
      return session;
    }
    const wasQueued = session.status === SessionStatus.QUEUED;
    session.cancel('cancelled by user');
    await this.sessions.update(session);
    await this.queue.remove({ sessionId: session.id, attempt: session.attempt });
    // A worker may be waiting for the session's workspace lock: tell it to stop waiting.
    if (wasQueued) await this.signals.requestCancel(session.id);
    return session;
  }

  async edit(id: string, version: number, changes: { title?: string; metadata?: Record<string, unknown>; budget?: Budget | null }) {
    const session = await this.get(id);
    if (session.version !== version) throw SessionError.versionConflict(id, version);
    session.edit(changes);
    await this.sessions.update(session);
    return session;
  }

  async delete(id: string): Promise<void> {
    await this.withSessionLock(id, async (session) => {
      session.softDelete();
      await this.sessions.update(session);
      await this.queue.remove({ sessionId: id, attempt: session.attempt });
    });
  }

  private async withSessionLock<T>(id: string, work: (session: Session) => Promise<T>): Promise<T> {
    const lease = await this.locks.acquire(`session:${id}`, {
      // This process and one operation: owners must not be shared (see LockPort).
      owner: `api:${this.workspaces.hostId}:${randomUUID()}`,
      ttlMs: SESSION_LOCK_TTL_MS,
      waitTimeoutMs: SESSION_LOCK_WAIT_MS,
    });
    try {
      return await work(await this.get(id));
    } finally {
      // A release that cannot reach Redis is not the command's failure: the lease expires on its own.
      await this.locks.release(lease).catch((err: Error) => this.logger.warn(`Could not release ${lease.resource}: ${err.message}`));
    }
  }
}

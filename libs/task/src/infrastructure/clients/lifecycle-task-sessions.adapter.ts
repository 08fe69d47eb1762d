import { Injectable } from '@nestjs/common';
import { AgentError, AgentErrorCode, SkippedAgent } from '@app/agent';
import { Session, SessionError, SessionErrorCode, SessionLifecycleService, SessionWorktreeService } from '@app/session';
import {
  CreateTaskSession,
  CreateTaskSessionOutcome,
  TaskSessionChanges,
  TaskSessionsPort,
  TaskSessionStatus,
  TaskSessionView,
} from '../../application/ports/task-sessions.port';

/**
 * Task sessions through the session context's use cases, routed by role and skills like any
 * session. When no agent of the role has any of the task's skills, the task goes to the best agent
 * of its role (a plan must not stall on a skill tag); when every agent of the role is busy
 * (SATURATED), the task waits for a later tick. A task of a plan with an integration branch gets
 * a worktree of its own made from that branch; any other task session shares its workspace
 * (isolation "shared", said explicitly: in a git work tree a session defaults to a worktree).
 */
@Injectable()
export class LifecycleTaskSessions implements TaskSessionsPort {
  constructor(
    private readonly lifecycle: SessionLifecycleService,
    private readonly worktrees: SessionWorktreeService,
  ) {}

  async create(command: CreateTaskSession): Promise<CreateTaskSessionOutcome> {
    const attempt = (skills: string[]) =>
      this.lifecycle.create({
        title: command.title,
        prompt: command.prompt,
        workspace: command.workspace,
        role: command.role,
        skills,
        complexity: command.complexity,
        origin: { kind: 'plan', ...command.origin },
        createdByKeyId: command.createdByKeyId,
        ...isolationOf(command),
      });
    try {
      return { session: toView(await attempt(command.skills)) };
    } catch (err) {
      let skipped = skippedOf(err);
      if (!skipped) throw err;
      if (command.skills.length > 0 && skipped.some((s) => s.reason === 'NO_SKILL_MATCH')) {
        try {
          return { session: toView(await attempt([])) };
        } catch (again) {
          skipped = skippedOf(again);
          if (!skipped) throw again;
          err = again;
        }
      }
      if (skipped.some((s) => s.reason === 'SATURATED')) return { waiting: (err as Error).message };
      throw err;
    }
  }

  async start(sessionId: string): Promise<void> {
    try {
      await this.lifecycle.start(sessionId);
    } catch (err) {
      // Started already (by an earlier tick that stopped before it could tell): nothing to do.
      if (err instanceof SessionError && err.code === SessionErrorCode.INVALID_TRANSITION) return;
      throw err;
    }
  }

  async cancel(sessionId: string): Promise<void> {
    try {
      await this.lifecycle.cancel(sessionId);
    } catch (err) {
      if (err instanceof SessionError && (err.code === SessionErrorCode.INVALID_TRANSITION || err.code === SessionErrorCode.SESSION_NOT_FOUND)) return;
      throw err;
    }
  }

  async retry(sessionId: string): Promise<void> {
    await this.lifecycle.retry(sessionId);
  }

  async get(sessionId: string): Promise<TaskSessionView | null> {
    try {
      return toView(await this.lifecycle.get(sessionId));
    } catch (err) {
      if (err instanceof SessionError && err.code === SessionErrorCode.SESSION_NOT_FOUND) return null;
      throw err;
    }
  }

  async markMerged(sessionId: string, merge: { target: string; commit: string }): Promise<void> {
    await this.worktrees.markMerged(sessionId, { ...merge, strategy: 'merge' });
  }

  unfinished(sessionIds: readonly string[]): Promise<string[]> {
    return this.lifecycle.unfinished(sessionIds);
  }
}

function isolationOf(command: CreateTaskSession) {
  if (!command.worktree) return { isolation: 'shared' as const };
  return { isolation: 'worktree' as const, baseRef: command.worktree.baseRef, ...(command.worktree.mergeIn && { mergeIn: command.worktree.mergeIn }) };
}

function changesOf(session: Session): TaskSessionChanges | null {
  const w = session.snapshot().worktree;
  if (!w) return null;
  return { branch: w.branch, baseCommit: w.baseCommit, headCommit: w.headCommit, files: [...w.files], insertions: w.insertions, deletions: w.deletions };
}

function skippedOf(err: unknown): SkippedAgent[] | null {
  if (!(err instanceof AgentError) || err.code !== AgentErrorCode.NO_ELIGIBLE_AGENT) return null;
  return ((err.details?.skipped as SkippedAgent[] | undefined) ?? []).filter((s) => s.reason !== 'ROLE_MISMATCH');
}

function toView(session: Session): TaskSessionView {
  const s = session.snapshot();
  return {
    id: s.id,
    status: s.status as TaskSessionStatus,
    attempt: s.attempt,
    agentId: s.agentId,
    prompt: s.prompt,
    result: s.result,
    usage: s.usage,
    error: s.error,
    startedAt: s.startedAt,
    finishedAt: s.finishedAt,
    changes: changesOf(session),
  };
}

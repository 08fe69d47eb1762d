import { stat } from 'node:fs/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { Session } from '../domain/session';
import { SessionStatus } from '../domain/session-status';
import { RunFailureCode, SessionError, SessionErrorCode } from '../domain/session.errors';
import {
  CODING_AGENT,
  CodingAgentPort,
  CodingTurnOutcome,
  CodingTurnRef,
  CodingTurnRequest,
} from './ports/coding-agent.port';
import { SessionRunJob } from './ports/session-queue.port';
import { SESSION_REPOSITORY, SessionRepositoryPort } from './ports/session.repository.port';

/** How often a running session re-reads its row, in case a cancel signal was lost. */
export const CANCEL_POLL_MS = 3_000;
const MAX_CONFLICT_RETRIES = 8;

type AbortReason = 'cancel' | 'timeout';

/**
 * The worker's use case: run one attempt of a session on the coding agent, from QUEUED to
 * a final status. Idempotent: a job that runs again (retried, or resumed after its worker
 * was lost) continues from what the row and the OpenCode session say, and never sends the
 * prompt twice.
 */
@Injectable()
export class SessionExecutionService {
  private readonly logger = new Logger(SessionExecutionService.name);
  /** Sessions this process is running, so that a cancel signal can reach them. */
  private readonly running = new Map<string, AbortController>();

  constructor(
    @Inject(SESSION_REPOSITORY) private readonly sessions: SessionRepositoryPort,
    @Inject(CODING_AGENT) private readonly codingAgent: CodingAgentPort,
  ) {}

  /** Called for every cancel signal; only the process running the session acts on it. */
  onCancelRequested(sessionId: string): void {
    this.running.get(sessionId)?.abort('cancel' satisfies AbortReason);
  }

  get activeSessionIds(): string[] {
    return [...this.running.keys()];
  }

  async run(job: SessionRunJob): Promise<void> {
    const claimed = await this.claim(job);
    if (!claimed) return;
    const { session, resume } = claimed;
    const request = toTurnRequest(session);

    if (!(await isDirectory(request.workspace))) {
      await this.finish(job, (s) =>
        s.fail({ code: RunFailureCode.WORKSPACE_MISSING, message: `workspace ${request.workspace} is gone` }, null),
      );
      return;
    }

    let ref = turnRefOf(session);
    let resumeTurn = resume && ref !== null;
    if (!ref) {
      try {
        ref = await this.codingAgent.openTurn(request);
      } catch (err) {
        await this.finish(job, (s) =>
          s.fail({ code: RunFailureCode.OPENCODE_UNAVAILABLE, message: `could not open a turn: ${message(err)}` }, null),
        );
        return;
      }
      const opened = ref;
      // Persisted before the prompt goes out, so that a resumed job finds the turn.
      await this.mutate(job, (s) => s.attachTurn(opened.opencodeSessionId, opened.messageId));
      resumeTurn = false;
    }

    const outcome = await this.follow(job, session, ref, request, resumeTurn);
    await this.finish(job, (s) => applyOutcome(s, outcome.result, outcome.abortReason, resume));
  }

  /** QUEUED → RUNNING, or picks up a RUNNING session whose worker was lost. */
  private async claim(job: SessionRunJob): Promise<{ session: Session; resume: boolean } | null> {
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const session = await this.sessions.findById(job.sessionId);
      if (!session || session.attempt !== job.attempt) return null; // deleted or superseded by a retry
      if (session.status === SessionStatus.RUNNING) {
        this.logger.warn(`Resuming session ${session.id} (attempt ${job.attempt}) after its worker was lost`);
        return { session, resume: true };
      }
      if (session.status !== SessionStatus.QUEUED) return null; // finished or cancelled meanwhile
      session.markRunning();
      try {
        await this.sessions.update(session);
        return { session, resume: false };
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
      }
    }
    throw new Error(`session ${job.sessionId}: too many concurrent changes while claiming it`);
  }

  private async follow(
    job: SessionRunJob,
    session: Session,
    ref: CodingTurnRef,
    request: CodingTurnRequest,
    resume: boolean,
  ): Promise<{ result: CodingTurnOutcome; abortReason?: AbortReason }> {
    const controller = new AbortController();
    this.running.set(job.sessionId, controller);
    const { startedAt, timeoutSeconds } = session.snapshot();
    const deadline = (startedAt ?? new Date()).getTime() + timeoutSeconds * 1000;
    const timer = setTimeout(() => controller.abort('timeout' satisfies AbortReason), Math.max(0, deadline - Date.now()));
    const poll = setInterval(() => void this.pollCancel(job, controller), CANCEL_POLL_MS);
    if (session.cancelRequested) controller.abort('cancel' satisfies AbortReason);
    try {
      const result = await this.codingAgent.runTurn(ref, request, { signal: controller.signal, resume });
      const abortReason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : undefined;
      return { result, abortReason };
    } finally {
      clearTimeout(timer);
      clearInterval(poll);
      this.running.delete(job.sessionId);
    }
  }

  private async pollCancel(job: SessionRunJob, controller: AbortController): Promise<void> {
    const current = await this.sessions.findById(job.sessionId, { includeDeleted: true }).catch(() => null);
    if (current?.cancelRequested && !controller.signal.aborted) controller.abort('cancel' satisfies AbortReason);
  }

  /** Applies a final transition to the current row, if this attempt is still RUNNING. */
  private finish(job: SessionRunJob, change: (s: Session) => void): Promise<void> {
    return this.mutate(job, change);
  }

  /** Reload, change, version-checked write; reloads and reapplies on a concurrent edit. */
  private async mutate(job: SessionRunJob, change: (s: Session) => void): Promise<void> {
    for (let i = 0; i < MAX_CONFLICT_RETRIES; i++) {
      const session = await this.sessions.findById(job.sessionId, { includeDeleted: true });
      if (!session || session.attempt !== job.attempt || session.status !== SessionStatus.RUNNING) return;
      change(session);
      try {
        await this.sessions.update(session);
        return;
      } catch (err) {
        if (!isVersionConflict(err)) throw err;
      }
    }
    throw new Error(`session ${job.sessionId}: too many concurrent changes while recording its run`);
  }
}

function applyOutcome(session: Session, outcome: CodingTurnOutcome, abortReason: AbortReason | undefined, resumed: boolean) {
  const partial = { summary: outcome.summary, filesChanged: outcome.filesChanged };
  if (outcome.status === 'completed') return session.complete(partial, outcome.usage);
  if (outcome.status === 'aborted' || abortReason) {
    if (abortReason === 'timeout') return session.timeOut(outcome.usage, new Date(), partial);
    return session.cancel('cancelled by user', outcome.usage, new Date(), partial);
  }
  const error = outcome.error ?? { code: 'OPENCODE_ERROR', message: 'the turn failed without an error message' };
  if (outcome.status === 'lost' && resumed) {
    return session.fail(
      { code: RunFailureCode.WORKER_LOST, message: `the worker running this session was lost and the OpenCode turn could not be resumed: ${error.message}` },
      outcome.usage,
      new Date(),
      partial,
    );
  }
  return session.fail(error, outcome.usage, new Date(), partial);
}

function toTurnRequest(session: Session): CodingTurnRequest {
  const s = session.snapshot();
  return { workspace: s.workspace, title: s.title, prompt: s.prompt, agent: s.agent, model: s.model ?? undefined };
}

function turnRefOf(session: Session): CodingTurnRef | null {
  const { opencodeSessionId, opencodeMessageId } = session.snapshot();
  return opencodeSessionId && opencodeMessageId ? { opencodeSessionId, messageId: opencodeMessageId } : null;
}

function isVersionConflict(err: unknown): boolean {
  return err instanceof SessionError && err.code === SessionErrorCode.VERSION_CONFLICT;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import type { Logger } from '@nestjs/common';
import { errorMessage } from '@app/shared';
import { PlanTask, TaskSessionRef } from '../domain/plan';
import { PlanRepositoryPort } from './ports/plan.repository.port';
import { TaskSessionsPort, TaskSessionView } from './ports/task-sessions.port';

/**
 * Attaches a new session to its task and starts it. The session id is stored on the task
 * (version-checked) before the session is started, so a process that stops in between leaves a
 * PENDING session the next tick starts, never a second session.
 */
export async function attachAndStart(
  ports: { plans: PlanRepositoryPort; sessions: TaskSessionsPort; logger: Logger },
  task: PlanTask,
  session: TaskSessionView,
  kind: TaskSessionRef['kind'],
  now = new Date(),
): Promise<void> {
  task.attachSession({ sessionId: session.id, kind, role: kind === 'TASK' ? task.spec.role : 'DEBUGGER', agentId: session.agentId, createdAt: now }, now);
  try {
    await ports.plans.updateTask(task);
  } catch (err) {
    // Not recorded on the task: nobody would ever start or watch it.
    await ports.sessions.cancel(session.id).catch(() => undefined);
    throw err;
  }
  try {
    await ports.sessions.start(session.id);
  } catch (err) {
    // Recorded: the next tick finds it PENDING and starts it.
    ports.logger.warn(`Task ${task.key}: could not start session ${session.id} yet: ${errorMessage(err)}`);
  }
}

/** Whether a session's run committed anything on its own branch (null changes: it shared the workspace). */
export function hasCommits(session: TaskSessionView): boolean {
  return session.changes !== null && session.changes.headCommit !== session.changes.baseCommit;
}
